/**
 * The cache over the real wire resolver (src/dns/resolver.ts) against a real BIND 9, with three
 * replicas on a real etcd: one query per name whatever the replica count, a zone change reaching every
 * replica through the owner's refresh-ahead, NXDOMAIN cached negatively, and the authoritative server
 * stopped → every replica keeps serving the last good answer, flagged stale.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CachingResolver, createCachingResolver } from "../../src/cache/caching-resolver.js";
import { createResolver, type DnsResolver } from "../../src/dns/resolver.js";
import type { Answer, RecordType, Resolver } from "../../src/dns/types.js";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { type EtcdServer, startEtcd } from "../support/etcd-server.js";
import { until } from "../support/wait-for.js";

/** Counts lookups per key across every replica's own wire resolver. */
class Counting implements Resolver {
  constructor(
    private readonly inner: Resolver,
    private readonly counts: Map<string, number>,
  ) {}
  resolve(name: string, type: RecordType): Promise<Answer> {
    const k = `${type}/${name}`;
    this.counts.set(k, (this.counts.get(k) ?? 0) + 1);
    return this.inner.resolve(name, type);
  }
}

const addr = (a: Answer | undefined) => a?.records.map((r) => ("address" in r ? r.address : "")).join(",");

describe("cache over real DNS (bind9) and real etcd", () => {
  let etcd: EtcdServer;
  let bind: BindServer;
  const wires: DnsResolver[] = [];
  const replicas: CachingResolver[] = [];
  const counts = new Map<string, number>();
  const latest: Map<string, Answer>[] = [];

  beforeAll(async () => {
    [etcd, bind] = await Promise.all([
      startEtcd(),
      startBindServer({
        zones: [
          {
            origin: "cache.test",
            records: "api 5 IN A 127.0.0.5\nweb 60 IN A 127.0.0.7\n_grpc._tcp 60 IN SRV 0 10 8080 web",
            negativeTtl: 30,
          },
        ],
      }),
    ]);
    for (let i = 0; i < 3; i++) {
      const wire = createResolver({ servers: [bind.server], timeoutMs: 300, attempts: 1 });
      wires.push(wire);
      const r = createCachingResolver({
        upstream: new Counting(wire, counts),
        replicaId: `dns${i}`,
        etcd: { endpoints: etcd.endpoints, prefix: "/real-dns/", sessionTtlSeconds: 2, shards: 8 },
        followerGraceMs: 30_000,
      });
      const m = new Map<string, Answer>();
      latest.push(m);
      r.onUpdate((name, type, a) => m.set(`${type}/${name}`, a));
      replicas.push(r);
    }
    await Promise.all(replicas.map((r) => r.start()));
    await until(
      () =>
        replicas.every((r) => r.status().ownership?.balanced && r.status().ownership?.members.length === 3),
      10_000,
      "ownership",
    );
  });
  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await Promise.all(wires.map((w) => w.close()));
    await Promise.all([etcd?.close(), bind?.stop()]);
  });

  it("resolves each name once for the fleet and follows a zone change on every replica", async () => {
    for (const r of replicas) {
      r.track("api.cache.test", "A");
      r.track("nx.cache.test", "A");
    }
    await until(() => latest.every((m) => m.size === 2), 10_000, "first answers on every replica");
    expect(counts.get("A/api.cache.test.")).toBe(1);
    expect(counts.get("A/nx.cache.test.")).toBe(1);
    for (const m of latest) {
      expect(addr(m.get("A/api.cache.test."))).toBe("127.0.0.5");
      expect(m.get("A/api.cache.test.")?.ttl).toBe(5);
      expect(m.get("A/nx.cache.test.")?.rcode).toBe(3);
    }
    // Untracked lookups read the shared tier first: no extra DNS query from the other replicas.
    const puts = replicas[0]?.status().etcdTier?.puts ?? 0;
    await replicas[0]?.resolve("web.cache.test", "A");
    await until(() => (replicas[0]?.status().etcdTier?.puts ?? 0) > puts, 5000, "web written to etcd");
    await until(
      async () => {
        const all = await Promise.all(replicas.map((r) => r.resolve("web.cache.test", "A")));
        return all.every((a) => addr(a) === "127.0.0.7");
      },
      5000,
      "web on every replica",
    );
    expect(counts.get("A/web.cache.test.")).toBe(1);

    const before = counts.get("A/api.cache.test.") ?? 0;
    await bind.setZone({
      origin: "cache.test",
      records: "api 5 IN A 127.0.0.6\nweb 60 IN A 127.0.0.7\n_grpc._tcp 60 IN SRV 0 10 8080 web",
      negativeTtl: 30,
    });
    await until(
      () => latest.every((m) => addr(m.get("A/api.cache.test.")) === "127.0.0.6"),
      10_000,
      "zone change on every replica",
    );
    // One refresh by the owner, not one per replica.
    expect((counts.get("A/api.cache.test.") ?? 0) - before).toBeLessThanOrEqual(2);
  });

  it("shares SRV answers with their target addresses through etcd", async () => {
    for (const r of replicas) r.track("_grpc._tcp.cache.test", "SRV");
    await until(
      () => latest.every((m) => m.has("SRV/_grpc._tcp.cache.test.")),
      10_000,
      "SRV on every replica",
    );
    expect(counts.get("SRV/_grpc._tcp.cache.test.")).toBe(1);
    for (const m of latest) {
      const a = m.get("SRV/_grpc._tcp.cache.test.");
      expect(a?.records).toEqual([
        expect.objectContaining({
          type: "SRV",
          priority: 0,
          weight: 10,
          port: 8080,
          target: "web.cache.test.",
        }),
      ]);
      expect(a?.targets?.get("web.cache.test.")?.a.map((r) => ("address" in r ? r.address : ""))).toEqual([
        "127.0.0.7",
      ]);
    }
  });

  it("keeps serving the last good answer, flagged stale, when the DNS server is gone", async () => {
    await bind.stop();
    await until(
      () => latest.every((m) => m.get("A/api.cache.test.")?.stale === true),
      20_000,
      "stale notification on every replica",
    );
    for (const r of replicas) {
      const a = await r.resolve("api.cache.test", "A");
      expect(a.stale).toBe(true);
      expect(addr(a)).toBe("127.0.0.6");
    }
  });
});
