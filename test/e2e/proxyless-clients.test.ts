/**
 * End to end through the real product: `dns-eds serve` (the binary, a child process) resolving from a
 * real BIND 9, health-checking real gRPC backends, serving two proxyless clients nobody here wrote —
 * grpc-js-xds in this process (node zone z1) and grpc-go in child processes — and checked on what the
 * clients receive and where their calls land: DNS additions and removals, SRV priorities, health, IP
 * families, zones, and endpoint metadata from TXT (DNS-SD and RFC 1464 records) through a selector.
 */
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { backendsOf, type GoCall, type GrpcGoClient, startGrpcGoClient } from "../grpc-go/grpc-go-client.js";
import type { BindZone } from "../support/bind-server.js";
import { askWho, eventually, spread } from "../support/grpc-backends.js";
import { type E2eStack, FAST_GRPC_HEALTH, startE2eStack, xdsBootstrap } from "./stack.js";

const ORIGIN = "proxyless.e2e.test";
const [H1, H2, H3, H4] = ["127.0.0.71", "127.0.0.72", "127.0.0.73", "127.0.0.74"] as [
  string,
  string,
  string,
  string,
];
const V6 = "::1";

const zone = (port: number, svc: string[]): BindZone => ({
  origin: ORIGIN,
  negativeTtl: 1,
  records: [
    ...svc.map((h) => `svc 1 IN A ${h}`),
    `dual 1 IN A ${H4}`,
    `dual 1 IN AAAA ${V6}`,
    // SRV: two targets at priority 10 (weights 60/30), a backup at 20, and "." (no service) at 30.
    `_grpc._tcp.srv 1 IN SRV 10 60 ${port} b1`,
    `_grpc._tcp.srv 1 IN SRV 10 30 ${port} b2`,
    `_grpc._tcp.srv 1 IN SRV 20 10 ${port} b3`,
    "_grpc._tcp.srv 1 IN SRV 30 10 0 .",
    `b1 1 IN A ${H1}`,
    `b2 1 IN A ${H2}`,
    `b3 1 IN A ${H3}`,
    // Metadata in both TXT forms: DNS-SD (one pair per string) and RFC 1464 (one pair per record).
    `meta-sd 1 IN A ${H1}`,
    'meta-sd 1 IN TXT "version=v1" "team=demo"',
    `meta-1464 1 IN A ${H2}`,
    'meta-1464 1 IN TXT "version=v2"',
    'meta-1464 1 IN TXT "team=payments"',
    `za 1 IN A ${H1}`,
    `zb 1 IN A ${H3}`,
  ].join("\n"),
});

const clustersConfig = (port: number, dualFamily: string) => [
  {
    name: "svc",
    dns: { name: `svc.${ORIGIN}`, port },
    ipFamily: "V4_ONLY",
    grpcListener: true,
    healthCheck: FAST_GRPC_HEALTH,
    drainMs: 0,
  },
  {
    name: "dual",
    dns: { name: `dual.${ORIGIN}`, port },
    ipFamily: dualFamily,
    grpcListener: true,
    healthCheck: FAST_GRPC_HEALTH,
    drainMs: 0,
  },
  {
    name: "srvsvc",
    srv: { name: `_grpc._tcp.srv.${ORIGIN}` },
    ipFamily: "V4_ONLY",
    grpcListener: true,
    healthCheck: FAST_GRPC_HEALTH,
    drainMs: 0,
  },
  ...["v1", "v2"].map((v) => ({
    name: `${v}only`,
    ipFamily: "V4_ONLY",
    grpcListener: true,
    selector: { version: v },
    sources: [
      { dns: { name: `meta-sd.${ORIGIN}`, port }, txtMetadata: true },
      { dns: { name: `meta-1464.${ORIGIN}`, port }, txtMetadata: true },
    ],
  })),
  {
    name: "zonal",
    ipFamily: "V4_ONLY",
    grpcListener: true,
    zoneAware: true,
    healthCheck: FAST_GRPC_HEALTH,
    drainMs: 0,
    sources: [
      { dns: { name: `za.${ORIGIN}`, port }, locality: { region: "r1", zone: "z1" } },
      { dns: { name: `zb.${ORIGIN}`, port }, locality: { region: "r1", zone: "z2" } },
    ],
  },
];

let stack: E2eStack;
const jsClients: grpc.Client[] = [];
const goClients: GrpcGoClient[] = [];

const config = (dualFamily = "V6_PREFERRED") => ({
  admin: { listen: "127.0.0.1:0" },
  xds: { listen: "127.0.0.1:0", limits: { debounceMs: 20 } },
  dns: { servers: [stack.bind.server], timeoutMs: 500, attempts: 2, minTtl: 1, allowLoopback: true },
  clusters: clustersConfig(stack.port, dualFamily),
});

beforeAll(async () => {
  stack = await startE2eStack({
    name: "e2e-proxyless",
    hosts: [H1, H2, H3, H4, V6],
    zones: (port) => [zone(port, [H1, H2, H3])],
    config: (bind, port) => ({
      admin: { listen: "127.0.0.1:0" },
      xds: { listen: "127.0.0.1:0", limits: { debounceMs: 20 } },
      dns: { servers: [bind.server], timeoutMs: 500, attempts: 2, minTtl: 1, allowLoopback: true },
      clusters: clustersConfig(port, "V6_PREFERRED"),
    }),
  });
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = xdsBootstrap(stack.dnsEds.xdsServer, "e2e-js-z1", "z1");
  grpcXds.register();
}, 180_000);

afterEach(async () => {
  for (const c of goClients.splice(0)) await c.stop();
  for (const h of [H1, H2, H3, H4, V6]) if (stack.backends.has(h)) stack.setServing(h, true);
});

afterAll(async () => {
  for (const c of jsClients) c.close();
  for (const c of goClients) await c.stop();
  await stack?.close();
});

function js(target: string): grpc.Client {
  const c = new grpc.Client(`xds:///${target}`, grpc.credentials.createInsecure());
  jsClients.push(c);
  return c;
}

function go(target: string, nodeId: string, zone = "z1"): GrpcGoClient {
  const c = startGrpcGoClient({
    target: `xds:///${target}`,
    xdsServer: stack.dnsEds.xdsServer,
    nodeId,
    zone,
  });
  goClients.push(c);
  return c;
}

/** The last calls all answered, by exactly `hosts`. */
const only = (hosts: string[]) => (w: GoCall[]) =>
  w.every((c) => c.backend !== undefined) &&
  JSON.stringify(backendsOf(w)) === JSON.stringify([...hosts].sort());
const sameSet = (a: Set<string>, hosts: string[]) => a.size === hosts.length && hosts.every((h) => a.has(h));

async function healthOf(cluster: string, address: string): Promise<string | undefined> {
  return (await stack.dnsEds.cluster(cluster))?.endpoints.find((e) => e.address === address)?.health;
}

describe("dns-eds serve, end to end with grpc-js-xds and grpc-go", () => {
  it("follows DNS: every A record gets calls, a removed one loses them, an added one gains them", async () => {
    const a = js("svc");
    const g = go("svc", "e2e-go-dns");
    await eventually(async () => sameSet(await spread(a, 15), [H1, H2, H3]), 30_000);
    await g.until("calls on all three", 15, only([H1, H2, H3]));

    await stack.bind.setZone(zone(stack.port, [H1, H2]));
    await eventually(async () => sameSet(await spread(a, 12), [H1, H2]), 30_000);
    await g.until(`no calls on ${H3}`, 15, only([H1, H2]));

    await stack.bind.setZone(zone(stack.port, [H1, H2, H4]));
    await eventually(async () => sameSet(await spread(a, 15), [H1, H2, H4]), 30_000);
    await g.until(`calls on ${H4}`, 15, only([H1, H2, H4]));
    expect((await stack.dnsEds.cluster("svc"))?.endpoints.map((e) => e.address).sort()).toEqual([H1, H2, H4]);

    await stack.bind.setZone(zone(stack.port, [H1, H2, H3]));
    await eventually(async () => sameSet(await spread(a, 15), [H1, H2, H3]), 30_000);
  }, 120_000);

  it("health: a NOT_SERVING backend is UNHEALTHY on the admin page and gets no calls; SERVING again, it is back", async () => {
    const a = js("svc");
    const g = go("svc", "e2e-go-health");
    await g.until("calls on all three", 15, only([H1, H2, H3]));
    stack.setServing(H2, false);
    await eventually(async () => (await healthOf("svc", H2)) === "UNHEALTHY", 20_000);
    expect(await healthOf("svc", H1)).toBe("HEALTHY");
    await g.until(`no calls on ${H2}`, 15, only([H1, H3]));
    await eventually(async () => sameSet(await spread(a, 12), [H1, H3]), 20_000);

    stack.setServing(H2, true);
    await g.until(`calls back on ${H2}`, 15, only([H1, H2, H3]));
    await eventually(async () => (await spread(a, 15)).has(H2), 20_000);
  }, 90_000);

  it("a stopped backend (connection refused) goes UNHEALTHY and gets no calls; restarted, it is back", async () => {
    const g = go("svc", "e2e-go-refused");
    await g.until("calls on all three", 15, only([H1, H2, H3]));
    stack.stopBackend(H3);
    await eventually(async () => (await healthOf("svc", H3)) === "UNHEALTHY", 20_000);
    await g.until(`no calls on ${H3}`, 15, only([H1, H2]));
    await stack.restartBackend(H3);
    await g.until(`calls back on ${H3}`, 15, only([H1, H2, H3]));
  }, 90_000);

  it("SRV: priority 0 (weights 60/30) takes the calls, the '.' target is no endpoint; priority 1 only when 0 fails", async () => {
    const a = js("srvsvc");
    const g = go("srvsvc", "e2e-go-srv");
    const srv = await stack.dnsEds.cluster("srvsvc");
    expect(srv?.endpoints.map((e) => `${e.priority} ${e.address} w${e.weight}`).sort()).toEqual([
      `0 ${H1} w60`,
      `0 ${H2} w30`,
      `1 ${H3} w10`,
    ]);
    await g.until("calls on priority 0 only", 20, only([H1, H2]));
    await eventually(async () => sameSet(await spread(a, 12), [H1, H2]), 20_000);

    stack.setServing(H1, false);
    stack.setServing(H2, false);
    await g.until(`calls fail over to ${H3}`, 10, only([H3]));
    await eventually(async () => sameSet(await spread(a, 6), [H3]), 20_000);
    stack.setServing(H1, true);
    stack.setServing(H2, true);
    await g.until("calls back on priority 0", 20, only([H1, H2]));
  }, 90_000);

  it("IP families: V6_PREFERRED calls ::1, fails over to IPv4 when ::1 is unhealthy; V4_ONLY (reloaded) never lists IPv6", async () => {
    const a = js("dual");
    const g = go("dual", "e2e-go-dual");
    await g.until("calls on ::1 only", 10, only([V6]));
    await eventually(async () => sameSet(await spread(a, 6), [V6]), 20_000);
    stack.setServing(V6, false);
    await g.until(`calls on ${H4} only`, 10, only([H4]));
    await eventually(async () => sameSet(await spread(a, 6), [H4]), 20_000);
    stack.setServing(V6, true);
    await g.until("calls back on ::1", 10, only([V6]));

    // The file changes: dns-eds reloads it without a restart.
    const mark = stack.dnsEds.mark();
    stack.writeConfig(config("V4_ONLY"));
    await stack.dnsEds.waitLog(
      (l) => Array.isArray(l.applied) && l.applied.includes("clusters"),
      "clusters reloaded",
      mark,
    );
    await eventually(async () => {
      const eps = (await stack.dnsEds.cluster("dual"))?.endpoints ?? [];
      return eps.length === 1 && eps[0]?.address === H4;
    }, 20_000);
    await g.until(`calls on ${H4} only`, 10, only([H4]));
    await eventually(async () => sameSet(await spread(a, 6), [H4]), 20_000);
    stack.writeConfig(config("V6_PREFERRED"));
    await g.until("calls back on ::1", 10, only([V6]));
  }, 120_000);

  it("zones: a z1 client stays in z1 and a z2 client in z2; a dead zone spills over", async () => {
    const a = js("zonal");
    const g = go("zonal", "e2e-go-z2", "z2");
    await eventually(async () => sameSet(await spread(a, 8), [H1]), 20_000);
    await g.until("calls in z2 only", 10, only([H3]));
    stack.setServing(H1, false);
    await eventually(async () => sameSet(await spread(a, 6), [H3]), 20_000);
    stack.setServing(H1, true);
    await eventually(async () => sameSet(await spread(a, 6), [H1]), 20_000);
    stack.setServing(H3, false);
    await g.until("z2 spills over to z1", 10, only([H1]));
  }, 90_000);

  it("TXT metadata in both forms reaches the selector: version v1 (DNS-SD record) and v2 (RFC 1464 records)", async () => {
    for (const [cluster, host, meta] of [
      ["v1only", H1, { version: "v1", team: "demo" }],
      ["v2only", H2, { version: "v2", team: "payments" }],
    ] as const) {
      const a = js(cluster);
      const g = go(cluster, `e2e-go-${cluster}`);
      await eventually(async () => sameSet(await spread(a, 6), [host]), 20_000);
      await g.until(`calls on ${host} only`, 10, only([host]));
      // What the clients were sent: the endpoint carries the TXT pairs under envoy.lb.
      const dump = (await (
        await fetch(
          `${stack.dnsEds.adminUrl}/config_dump?resource=dynamic_endpoint_configs&name_regex=${cluster}`,
        )
      ).json()) as {
        configs?: Array<{
          endpoint_config: { endpoints?: Array<{ lb_endpoints?: Array<{ metadata?: unknown }> }> };
        }>;
      };
      const lb = dump.configs?.[0]?.endpoint_config.endpoints?.flatMap((e) => e.lb_endpoints ?? []) ?? [];
      expect(lb).toHaveLength(1);
      expect(lb[0]?.metadata).toEqual({ filter_metadata: { "envoy.lb": meta } });
    }
  }, 90_000);

  it("a name that does not exist yet is answered when it appears", async () => {
    const mark = stack.dnsEds.mark();
    stack.writeConfig({
      ...config(),
      clusters: [
        ...clustersConfig(stack.port, "V6_PREFERRED"),
        {
          name: "late",
          dns: { name: `late.${ORIGIN}`, port: stack.port },
          ipFamily: "V4_ONLY",
          grpcListener: true,
        },
      ],
    });
    await stack.dnsEds.waitLog(
      (l) => Array.isArray(l.applied) && l.applied.includes("clusters"),
      "clusters reloaded",
      mark,
    );
    const a = js("late");
    await expect(askWho(a, 1500)).rejects.toBeDefined();
    const z = zone(stack.port, [H1, H2, H3]);
    await stack.bind.setZone({ ...z, records: `${z.records}\nlate 1 IN A ${H4}` });
    await eventually(async () => sameSet(await spread(a, 4), [H4]), 30_000);
    stack.writeConfig(config());
  }, 90_000);
});
