/**
 * End to end through the real binary, on a real 3-member etcd: two `dns-eds serve` replicas sharing it,
 * each serving a grpc-go client. Losing etcd's quorum makes both replicas not ready (/readyz 503 naming
 * etcd) while their clients keep calling and a DNS change still reaches them; the quorum back, both are
 * ready again. And /readyz in the real app: 503 naming the waiting cluster while the first lookup is in
 * flight, 503 naming dns once it failed, 200 once a DNS server answers on the configured address.
 */
import { createSocket } from "node:dgram";
import { writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { backendsOf, type GoCall, type GrpcGoClient, startGrpcGoClient } from "../grpc-go/grpc-go-client.js";
import { type BindServer, type BindZone, startBindServer } from "../support/bind-server.js";
import { type DnsEdsProcess, spawnDnsEds } from "../support/dns-eds-process.js";
import { type EtcdServer, freePort, startEtcd } from "../support/etcd-server.js";
import { waitFor } from "../support/wait-for.js";
import { type E2eStack, FAST_GRPC_HEALTH, startE2eStack } from "./stack.js";

const ORIGIN = "fleet.e2e.test";
const [H1, H2, H3] = ["127.0.0.101", "127.0.0.102", "127.0.0.103"] as [string, string, string];

let stack: E2eStack;
let etcd: EtcdServer;
const procs: DnsEdsProcess[] = [];
const clients: GrpcGoClient[] = [];

const zone = (hosts: string[]): BindZone => ({
  origin: ORIGIN,
  negativeTtl: 1,
  records: hosts.map((h) => `web 1 IN A ${h}`).join("\n"),
});

function replicaConfig(dnsServer: string, withEtcd: boolean) {
  return {
    admin: { listen: "127.0.0.1:0" },
    xds: { listen: "127.0.0.1:0", limits: { debounceMs: 20 } },
    dns: { servers: [dnsServer], timeoutMs: 300, attempts: 1, minTtl: 1, allowLoopback: true },
    ...(withEtcd
      ? { cache: { etcd: { endpoints: etcd.endpoints, prefix: "/e2e-fleet/", dialTimeoutMs: 1000 } } }
      : {}),
    clusters: [
      {
        name: "web",
        dns: { name: `web.${ORIGIN}`, port: stack.port },
        ipFamily: "V4_ONLY",
        grpcListener: true,
        healthCheck: FAST_GRPC_HEALTH,
        drainMs: 0,
      },
    ],
  };
}

async function replica(name: string, config: Record<string, unknown>): Promise<DnsEdsProcess> {
  const file = join(stack.workDir, `${name}.yaml`);
  writeFileSync(file, stringify(config));
  const p = await spawnDnsEds({ main: stack.main, config: file, cwd: stack.workDir });
  procs.push(p);
  return p;
}

beforeAll(async () => {
  etcd = await startEtcd({ members: 3 });
  // The stack's own process is replica "a" (with etcd); "b" is started below with the same config.
  stack = await startE2eStack({
    name: "e2e-fleet",
    hosts: [H1, H2, H3],
    zones: () => [zone([H1, H2, H3])],
    config: (bind, port) => ({
      admin: { listen: "127.0.0.1:0" },
      xds: { listen: "127.0.0.1:0", limits: { debounceMs: 20 } },
      dns: { servers: [bind.server], timeoutMs: 300, attempts: 1, minTtl: 1, allowLoopback: true },
      cache: { etcd: { endpoints: etcd.endpoints, prefix: "/e2e-fleet/", dialTimeoutMs: 1000 } },
      clusters: [
        {
          name: "web",
          dns: { name: `web.${ORIGIN}`, port },
          ipFamily: "V4_ONLY",
          grpcListener: true,
          healthCheck: FAST_GRPC_HEALTH,
          drainMs: 0,
        },
      ],
    }),
  });
}, 180_000);

afterAll(async () => {
  for (const c of clients) await c.stop();
  for (const p of procs) await p.kill();
  await stack?.close();
  await etcd?.close();
});

function go(p: DnsEdsProcess, nodeId: string): GrpcGoClient {
  const c = startGrpcGoClient({ target: "xds:///web", xdsServer: p.xdsServer, nodeId });
  clients.push(c);
  return c;
}
const only = (hosts: string[]) => (w: GoCall[]) =>
  w.every((c) => c.backend !== undefined) &&
  JSON.stringify(backendsOf(w)) === JSON.stringify([...hosts].sort());

const check = async (p: DnsEdsProcess, name: string) =>
  (await p.readyz()).body.checks?.find((c) => c.name === name);

describe("/readyz of the real app", () => {
  it("503 before the first resolution and while DNS is down, naming why; 200 once DNS answers, without a restart", async () => {
    // The configured DNS address first swallows queries (an outage is a timeout, not a refusal): the
    // first lookup stays in flight for the 10 s per-try timeout, which is the "before" window.
    const dnsPort = await freePort();
    const blackhole = createSocket("udp4");
    await new Promise<void>((r) => blackhole.bind(dnsPort, "127.0.0.1", () => r()));
    let late: BindServer | undefined;
    const p = await replica("no-dns", {
      ...replicaConfig(`127.0.0.1:${dnsPort}`, false),
      dns: {
        servers: [`127.0.0.1:${dnsPort}`],
        timeoutMs: 10_000,
        attempts: 1,
        minTtl: 1,
        allowLoopback: true,
      },
    });
    try {
      const before = await p.readyz();
      expect(before.status).toBe(503);
      expect(before.body.checks?.find((c) => c.name === "first-resolution")).toEqual({
        name: "first-resolution",
        ok: false,
        reason: "waiting for the first resolution of 1 cluster(s): web",
      });
      // The lookup times out: the dns check now names the failures. The cluster is published empty,
      // which is not a resolution: first-resolution still names it.
      const down = await waitFor("the failed lookup on /readyz", 30_000, async () => {
        const r = await p.readyz();
        const dns = r.body.checks?.find((c) => c.name === "dns");
        return dns && !dns.ok ? r : undefined;
      });
      expect(down.status).toBe(503);
      expect(down.body.checks?.find((c) => c.name === "dns")?.reason).toMatch(/lookups failed/);
      expect(down.body.checks?.find((c) => c.name === "first-resolution")?.ok).toBe(false);
      // A DNS server takes the address: ready without a restart. A failed lookup is retried after the
      // cache's stale-refresh interval (30 s, src/cache/cache-policy.ts), so the bound is that interval
      // plus 20 s for a loaded box. 200 means the answer is published: the endpoint is there at once
      // (a balancer sending clients to a 200 replica must not have them served an empty assignment).
      await new Promise<void>((r) => blackhole.close(() => r()));
      late = await startBindServer({ zones: [zone([H1])], port: dnsPort });
      await waitFor("/readyz 200", 50_000, async () =>
        (await p.readyz()).status === 200 ? true : undefined,
      );
      expect((await p.cluster("web"))?.endpoints.map((e) => e.address)).toEqual([H1]);
    } finally {
      try {
        blackhole.close();
      } catch {
        // closed above
      }
      await late?.stop();
      await p.kill();
    }
  }, 120_000);
});

describe("etcd quorum loss under two replicas", () => {
  it("both go not ready naming etcd, keep serving their clients and following DNS; ready again with the quorum back", async () => {
    const a = stack.dnsEds;
    const b = await replica("b", replicaConfig(stack.bind.server, true));
    for (const p of [a, b]) {
      await waitFor("ready", 30_000, async () => ((await p.readyz()).status === 200 ? true : undefined));
      expect(await check(p, "etcd")).toMatchObject({ ok: true, reason: "connected" });
    }
    const ga = go(a, "e2e-fleet-a");
    const gb = go(b, "e2e-fleet-b");
    for (const g of [ga, gb]) await g.until("calls on all three", 15, only([H1, H2, H3]));

    // Two of three members down: the one left has no quorum.
    const leader = await etcd.leader();
    const follower = etcd.members.find((m) => m !== leader);
    await leader.stop();
    await follower?.stop();
    try {
      for (const p of [a, b]) {
        await waitFor("etcd not ready", 30_000, async () =>
          (await check(p, "etcd"))?.ok === false ? true : undefined,
        );
        const r = await p.readyz();
        expect(r.status).toBe(503);
        expect(await check(p, "etcd")).toEqual({
          name: "etcd",
          ok: false,
          reason: "etcd unreachable or without quorum",
        });
      }
      // Clients are still served, and a DNS change during the outage reaches both replicas' clients.
      for (const g of [ga, gb]) await g.until("calls during the outage", 15, only([H1, H2, H3]));
      await stack.bind.setZone(zone([H1, H2]));
      for (const g of [ga, gb]) await g.until(`no calls on ${H3}`, 15, only([H1, H2]), { ms: 45_000 });
    } finally {
      await leader.start();
      await follower?.start();
    }
    await etcd.waitHealthy();
    for (const p of [a, b]) {
      await waitFor("ready again", 45_000, async () =>
        (await p.readyz()).status === 200 ? true : undefined,
      );
    }
    await stack.bind.setZone(zone([H1, H2, H3]));
    for (const g of [ga, gb])
      await g.until("calls on all three again", 15, only([H1, H2, H3]), { ms: 45_000 });
    for (const g of [ga, gb]) expect(g.failuresSinceFirstAnswer()).toEqual([]);
  }, 240_000);
});
