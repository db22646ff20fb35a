/**
 * CSDS with @grpc/grpc-js-xds (1.14) as the client, in a child process: SYNCED for the listener, route,
 * cluster and assignment of the target it dials, NOT_SENT for the listener of a target that does not
 * exist, ERROR with grpc-js-xds's own message when it refuses an assignment (a duplicate address,
 * published through a store with validation off), STALE while the process is stopped (SIGSTOP) with
 * a new assignment sent, SYNCED once it runs again.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchClientStatus } from "../../src/cli/csds-client.js";
import { type ClientConfig, ConfigStatus } from "../../src/gen/envoy/service/status/v3/csds_pb.js";
import {
  clusterLoadAssignment,
  edsCluster,
  grpcApiListener,
  routeToCluster,
} from "../../src/xds/resource-builders.js";
import { ResourceStore } from "../../src/xds/resource-store.js";
import { createXdsServer, type XdsServer } from "../../src/xds/server.js";
import { TYPE_URLS as T } from "../../src/xds/type-urls.js";
import { waitFor } from "../support/wait-for.js";

const NODE = "gx-node";
let store: ResourceStore;
let server: XdsServer;
let port: number;
let child: ChildProcess;

const cla = (...ports: number[]) =>
  clusterLoadAssignment("gx-cluster", [
    { region: "r1", zone: "z1", endpoints: ports.map((p) => ({ address: "127.0.0.1", port: p })) },
  ]);

beforeAll(async () => {
  store = new ResourceStore({ skipValidation: true });
  store.publish({
    upsert: [
      { typeUrl: T.endpoint, name: "gx-cluster", resource: cla(9) },
      { typeUrl: T.cluster, name: "gx-cluster", resource: edsCluster("gx-cluster") },
      { typeUrl: T.route, name: "gx-route", resource: routeToCluster("gx-route", "gx-cluster") },
      { typeUrl: T.listener, name: "gx-svc", resource: grpcApiListener("gx-svc", "gx-route") },
    ],
  });
  server = createXdsServer({ store });
  port = await server.listen("127.0.0.1:0");
  const bootstrap = JSON.stringify({
    xds_servers: [
      { server_uri: `127.0.0.1:${port}`, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] },
    ],
    node: { id: NODE, locality: { region: "r1", zone: "gx-zone" } },
  });
  child = spawn(
    process.execPath,
    [join(import.meta.dirname, "grpc-js-xds-client.mjs"), bootstrap, "gx-svc", "gx-missing"],
    {
      stdio: ["pipe", "ignore", "inherit"],
    },
  );
}, 30_000);

afterAll(async () => {
  if (child && child.exitCode === null) {
    child.kill("SIGCONT");
    child.kill("SIGKILL");
  }
  await server?.shutdown(1000);
});

const client = async (): Promise<ClientConfig | undefined> =>
  (await fetchClientStatus(`127.0.0.1:${port}`)).config.find((c) => c.node?.id === NODE);
const entry = (c: ClientConfig | undefined, typeUrl: string, name: string) =>
  c?.genericXdsConfigs.find((g) => g.typeUrl === typeUrl && g.name === name);
const waitState = (typeUrl: string, name: string, want: ConfigStatus, what: string) =>
  waitFor(what, 20_000, async () => {
    const g = entry(await client(), typeUrl, name);
    return g?.configStatus === want ? g : undefined;
  });

describe("CSDS with @grpc/grpc-js-xds", () => {
  it("SYNCED for every resource of the dialled target, NOT_SENT for a listener that does not exist", async () => {
    for (const [t, n] of [
      [T.listener, "gx-svc"],
      [T.route, "gx-route"],
      [T.cluster, "gx-cluster"],
      [T.endpoint, "gx-cluster"],
    ] as const) {
      const g = await waitState(t, n, ConfigStatus.SYNCED, `${n} SYNCED`);
      expect(g.versionInfo).toBe(store.get(t, n)?.version);
    }
    const missing = await waitState(T.listener, "gx-missing", ConfigStatus.NOT_SENT, "gx-missing NOT_SENT");
    expect(missing.versionInfo).toBe("");
    const c = await client();
    expect(c?.node?.userAgentName).toBe("gRPC Node Pure JS");
    expect(c?.node?.locality?.zone).toBe("gx-zone");
  }, 30_000);

  it("ERROR with the client's message when it refuses an assignment", async () => {
    const good = store.get(T.endpoint, "gx-cluster")?.version;
    store.publish({ upsert: [{ typeUrl: T.endpoint, name: "gx-cluster", resource: cla(9, 9) }] });
    const g = await waitState(T.endpoint, "gx-cluster", ConfigStatus.ERROR, "EDS ERROR");
    expect(g.versionInfo).toBe(good);
    expect(g.errorState?.versionInfo).toBe(store.get(T.endpoint, "gx-cluster")?.version);
    expect(g.errorState?.details).toMatch(/duplicate of another address/);
  }, 30_000);

  it("STALE while the client process is stopped, SYNCED after it continues", async () => {
    child.kill("SIGSTOP");
    try {
      store.publish({ upsert: [{ typeUrl: T.endpoint, name: "gx-cluster", resource: cla(10) }] });
      const g = await waitState(T.endpoint, "gx-cluster", ConfigStatus.STALE, "EDS STALE");
      expect(g.versionInfo).toBe(store.get(T.endpoint, "gx-cluster")?.version);
    } finally {
      child.kill("SIGCONT");
    }
    await waitState(T.endpoint, "gx-cluster", ConfigStatus.SYNCED, "EDS SYNCED after SIGCONT");
  }, 30_000);
});
