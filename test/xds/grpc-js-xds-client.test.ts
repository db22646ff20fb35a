/**
 * The xDS stage (store and server, in this process) with a real xDS client nobody here wrote:
 * @grpc/grpc-js-xds dialing xds:///e2e-svc through our server (LDS → RDS → CDS → EDS over ADS) to three
 * real gRPC backends on 127.0.0.1..3.
 * The bootstrap is read once per process, so this file is the only one that registers the xds resolver.
 */
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  clusterLoadAssignment,
  edsCluster,
  grpcApiListener,
  routeToCluster,
} from "../../src/xds/resource-builders.js";
import type { ResourceStore } from "../../src/xds/resource-store.js";
import type { XdsServer } from "../../src/xds/server.js";
import { type RecordingMetrics, startServer, T } from "./harness.js";

const WHO = {
  path: "/dnseds.test.Who/Ask",
  requestStream: false,
  responseStream: false,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
} as const;

let store: ResourceStore;
let server: XdsServer;
let metrics: RecordingMetrics;
const backends: Array<{ server: grpc.Server; host: string; port: number }> = [];
let client: grpc.Client;
let xdsPort: number;

async function startBackend(host: string): Promise<void> {
  const s = new grpc.Server();
  s.addService({ Ask: WHO } as grpc.ServiceDefinition, {
    Ask: (_call: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) =>
      cb(null, Buffer.from(host)),
  });
  const port = await new Promise<number>((resolve, reject) =>
    s.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (e, p) => (e ? reject(e) : resolve(p))),
  );
  backends.push({ server: s, host, port });
}

function ask(): Promise<string> {
  return new Promise((resolve, reject) => {
    client.makeUnaryRequest(
      WHO.path,
      WHO.requestSerialize,
      WHO.responseDeserialize,
      Buffer.alloc(0),
      { deadline: Date.now() + 5_000 },
      (err, res) => (err ? reject(err) : resolve(res?.toString() ?? "")),
    );
  });
}

/** Hosts answering `n` calls. */
async function spread(n: number): Promise<Map<string, number>> {
  const seen = new Map<string, number>();
  for (let i = 0; i < n; i++) {
    const h = await ask();
    seen.set(h, (seen.get(h) ?? 0) + 1);
  }
  return seen;
}

/** Repeats `check` until it holds, bounded in time (the client applies updates asynchronously). */
async function eventually(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  for (let i = 0; i < 1000; i++) {
    if (await check()) return;
    if (Date.now() > deadline) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error("condition not met in time");
}

const cla = (hosts: Array<{ host: string; port: number }>) =>
  clusterLoadAssignment("e2e-cluster", [
    {
      region: "r1",
      zone: "z1",
      endpoints: hosts.map((b) => ({ address: b.host, port: b.port, health: "HEALTHY" as const })),
    },
  ]);

beforeAll(async () => {
  // The store skips NACK-rule validation here so the test can publish something the client rejects.
  ({ store, server, metrics, port: xdsPort } = await startServer({}, { skipValidation: true }));
  for (const h of ["127.0.0.1", "127.0.0.2", "127.0.0.3"]) await startBackend(h);
}, 30_000);

afterAll(async () => {
  client?.close();
  for (const b of backends) b.server.forceShutdown();
  await server?.shutdown(500);
});

describe("@grpc/grpc-js-xds against dns-eds", () => {
  it("reaches every backend, follows an EDS change, and stays on the last good assignment after a NACK", async () => {
    process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
      xds_servers: [
        {
          server_uri: `127.0.0.1:${xdsPort}`,
          channel_creds: [{ type: "insecure" }],
          server_features: ["xds_v3"],
        },
      ],
      node: { id: "e2e-node", locality: { region: "r1", zone: "z1" } },
    });
    grpcXds.register();
    store.publish({
      upsert: [
        { typeUrl: T.endpoint, name: "e2e-cluster", resource: cla(backends) },
        { typeUrl: T.cluster, name: "e2e-cluster", resource: edsCluster("e2e-cluster") },
        { typeUrl: T.route, name: "e2e-route", resource: routeToCluster("e2e-route", "e2e-cluster") },
        { typeUrl: T.listener, name: "e2e-svc", resource: grpcApiListener("e2e-svc", "e2e-route") },
      ],
    });
    client = new grpc.Client("xds:///e2e-svc", grpc.credentials.createInsecure());

    // Round robin over all three.
    await eventually(async () => {
      const s = await spread(9);
      return s.size === 3;
    });

    // EDS change: only backend 3 remains; traffic moves there.
    const third = backends[2];
    if (!third) throw new Error("backend missing");
    store.publish({ upsert: [{ typeUrl: T.endpoint, name: "e2e-cluster", resource: cla([third]) }] });
    await eventually(async () => {
      const s = await spread(6);
      return s.size === 1 && s.get("127.0.0.3") === 6;
    });

    // A CLA the client rejects (duplicate address) while it would move traffic to backend 1.
    const first = backends[0];
    if (!first) throw new Error("backend missing");
    const nacksBefore = metrics.nacks.length;
    store.publish({ upsert: [{ typeUrl: T.endpoint, name: "e2e-cluster", resource: cla([first, first]) }] });
    await eventually(async () => metrics.nacks.length > nacksBefore);
    expect(metrics.nacks.at(-1)?.typeUrl).toBe(T.endpoint);
    const after = await spread(9);
    expect([...after.keys()]).toEqual(["127.0.0.3"]);
    expect(metrics.nacks.length).toBe(nacksBefore + 1);

    // New, valid content is sent again after the NACK and moves traffic to backend 1.
    store.publish({ upsert: [{ typeUrl: T.endpoint, name: "e2e-cluster", resource: cla([first]) }] });
    await eventually(async () => {
      const s = await spread(6);
      return s.size === 1 && s.get("127.0.0.1") === 6;
    });
  }, 60_000);
});
