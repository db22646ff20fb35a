/**
 * The control plane wired by src/app/serve.ts, run in the test's own process (an integration test of the
 * wiring; the binary as a user runs it is test/e2e/): a config object → our resolver against a real
 * bind9 → caching resolver → gRPC health checks → endpoint pipeline → xDS server → @grpc/grpc-js-xds
 * client → real gRPC backends on 127.0.0.21..24, with the admin endpoints a person would curl. The
 * grpc-js-xds bootstrap is per process, so this file is the only one here that registers the xds resolver.
 */
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AdminServer, startAdminServer } from "../../src/admin/admin-server.js";
import { createLogger } from "../../src/admin/logger.js";
import { createMetrics } from "../../src/admin/metrics.js";
import { type RunningControlPlane, startServer } from "../../src/app/serve.js";
import { parseConfigObject } from "../../src/config/load-config.js";
import { PUSH_ORDER } from "../../src/xds/type-urls.js";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import {
  askWho,
  eventually,
  freePortOnAll,
  spread,
  startWhoBackend,
  type WhoBackend,
} from "../support/grpc-backends.js";

const HOSTS = ["127.0.0.21", "127.0.0.22", "127.0.0.23", "127.0.0.24"];
const ORIGIN = "serve-e2e.test";

let bind: BindServer;
let app: RunningControlPlane;
let admin: AdminServer;
let port = 0;
const backends = new Map<string, WhoBackend>();
const clients: grpc.Client[] = [];
let streamsOpened = 0;

const zone = (hosts: string[]) => ({
  origin: ORIGIN,
  records: hosts.map((h) => `web 1 IN A ${h}`).join("\n"),
  negativeTtl: 1,
});

const sameSet = (a: Set<string>, b: string[]) => a.size === b.length && b.every((x) => a.has(x));

beforeAll(async () => {
  port = await freePortOnAll(HOSTS);
  for (const h of HOSTS) backends.set(h, await startWhoBackend(h, port));
  bind = await startBindServer({ zones: [zone(HOSTS.slice(0, 3))] });
  const config = parseConfigObject(
    {
      xds: { listen: "127.0.0.1:0", limits: { debounceMs: 20 } },
      admin: { listen: "127.0.0.1:0" },
      dns: { servers: [bind.server], timeoutMs: 300, attempts: 2, minTtl: 1, allowLoopback: true },
      clusters: [
        {
          name: "web",
          dns: { name: `web.${ORIGIN}`, port },
          ipFamily: "V4_ONLY",
          grpcListener: true,
          drainMs: 0,
          healthCheck: {
            type: "grpc",
            intervalMs: 300,
            timeoutMs: 250,
            healthyThreshold: 1,
            unhealthyThreshold: 1,
          },
        },
      ],
    },
    { source: "serve-e2e" },
  );
  const logger = createLogger({ level: "silent" });
  const metrics = createMetrics({ processMetrics: false });
  // Count xDS streams as the server opens them: a client whose stream was dropped reconnects, which
  // the open-streams gauge alone would not show.
  const hooks = metrics.xdsHooks();
  metrics.xdsHooks = () => ({
    ...hooks,
    streamOpened: (kind) => {
      streamsOpened++;
      hooks.streamOpened(kind);
    },
  });
  app = await startServer(config, { logger, metrics });
  admin = await startAdminServer({
    listen: "127.0.0.1:0",
    registry: metrics.registry,
    ...app.adminProviders,
  });
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [
      {
        server_uri: `127.0.0.1:${app.xdsPort}`,
        channel_creds: [{ type: "insecure" }],
        server_features: ["xds_v3"],
      },
    ],
    node: { id: "serve-e2e", locality: { zone: "z1" } },
  });
  grpcXds.register();
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await admin?.close();
  await app?.stop();
  for (const { server } of backends.values()) server.forceShutdown();
  await bind?.stop();
});

interface ClusterPage {
  clusters: Array<{ name: string; endpoints: Array<{ address: string; health: string }> }>;
}
const healthOf = async (cluster: string) => {
  const page = (await (await fetch(`${admin.url}/clusters?format=json`)).json()) as ClusterPage;
  const c = page.clusters.find((x) => x.name === cluster);
  return Object.fromEntries((c?.endpoints ?? []).map((e) => [e.address, e.health]));
};

describe("the wired control plane, in process", () => {
  it("spreads calls over every A record, follows DNS removals and additions, and drops an unhealthy backend", async () => {
    const client = new grpc.Client("xds:///web", grpc.credentials.createInsecure());
    clients.push(client);
    await eventually(async () => sameSet(await spread(client, 15), HOSTS.slice(0, 3)));

    // A record removed on the DNS server: traffic leaves it within TTL + refresh.
    await bind.setZone(zone([HOSTS[0] as string, HOSTS[1] as string]));
    await eventually(async () => sameSet(await spread(client, 12), HOSTS.slice(0, 2)));

    // A record added: traffic reaches it.
    await bind.setZone(zone([HOSTS[0] as string, HOSTS[1] as string, HOSTS[3] as string]));
    await eventually(async () => (await spread(client, 15)).has(HOSTS[3] as string));

    // A backend reports NOT_SERVING: it is marked UNHEALTHY and gets no calls; restored, it is back.
    backends.get(HOSTS[1] as string)?.health.setStatus("", "NOT_SERVING");
    await eventually(async () => !(await spread(client, 12)).has(HOSTS[1] as string));
    // That endpoint of that cluster, and only it, is UNHEALTHY on the admin page (the one added last may
    // still be UNKNOWN, before its first probe).
    const health = await healthOf("web");
    expect(Object.keys(health).sort()).toEqual([HOSTS[0], HOSTS[1], HOSTS[3]]);
    expect(Object.entries(health).filter(([, h]) => h === "UNHEALTHY")).toEqual([[HOSTS[1], "UNHEALTHY"]]);
    backends.get(HOSTS[1] as string)?.health.setStatus("", "SERVING");
    await eventually(async () => (await spread(client, 15)).has(HOSTS[1] as string));
  }, 90_000);

  it("reports ready, serves metrics and a config dump with every resource type the client used", async () => {
    const ready = await fetch(`${admin.url}/readyz`);
    expect(ready.status).toBe(200);
    const dump = (await (await fetch(`${admin.url}/config_dump`)).json()) as {
      configs: Array<Record<string, unknown>>;
    };
    // Envoy's admin shape: one dump per type, each listing what the client was served.
    expect(dump.configs.map((c) => c["@type"])).toEqual(
      ["Clusters", "Endpoints", "Listeners", "Routes"].map(
        (t) => `type.googleapis.com/envoy.admin.v3.${t}ConfigDump`,
      ),
    );
    for (const [i, field] of [
      "dynamic_active_clusters",
      "dynamic_endpoint_configs",
      "dynamic_listeners",
      "dynamic_route_configs",
    ].entries()) {
      expect((dump.configs[i]?.[field] as unknown[] | undefined)?.length ?? 0).toBeGreaterThan(0);
    }
    const metrics = await (await fetch(`${admin.url}/metrics`)).text();
    expect(metrics).toMatch(/dnseds_dns_queries_total\{[^}]*\} [1-9]/);
    expect(metrics).toMatch(/dnseds_xds_pushes_total\{[^}]*\} [1-9]/);
  });

  it("a config reload adds a cluster, then removes it, without dropping the client's stream", async () => {
    const client = clients[0] as grpc.Client;
    const opened = streamsOpened;
    expect(app.pipeline.snapshot().map((c) => c.name)).toEqual(["web"]);
    const withWeb2 = (web2: boolean) =>
      parseConfigObject(
        {
          xds: { listen: "127.0.0.1:0" },
          dns: { servers: [bind.server], minTtl: 1, allowLoopback: true },
          clusters: [
            { name: "web", dns: { name: `web.${ORIGIN}`, port }, ipFamily: "V4_ONLY", grpcListener: true },
            ...(web2 ? [{ name: "web2", static: [{ address: HOSTS[2], port }], grpcListener: true }] : []),
          ],
        },
        { source: "reload" },
      );
    await app.reload(withWeb2(true));
    const client2 = new grpc.Client("xds:///web2", grpc.credentials.createInsecure());
    clients.push(client2);
    await eventually(async () => sameSet(await spread(client2, 6), [HOSTS[2] as string]));

    await app.reload(withWeb2(false));
    expect(app.pipeline.snapshot().map((c) => c.name)).toEqual(["web"]);
    // Removed: the store no longer serves web2, and its client's calls fail (no resource, no endpoints).
    await eventually(async () => PUSH_ORDER.every((t) => ![...app.store.names(t)].includes("web2")));
    await eventually(
      async () =>
        (await askWho(client2, 1000).then(
          () => "ok",
          () => "failed",
        )) === "failed",
    );
    // The first client kept its stream (no reconnect on the server) and still reaches web's hosts.
    expect(streamsOpened).toBe(opened);
    const seen = await spread(client, 12);
    expect([...seen].every((h) => [HOSTS[0], HOSTS[1], HOSTS[3]].includes(h))).toBe(true);
    expect(seen.size).toBeGreaterThan(1);
  }, 60_000);
});
