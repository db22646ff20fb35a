/**
 * Several caching-resolver replicas in one process on one real etcd: one resolves, all serve, and the
 * upstream query count does not grow with the number of replicas; the owner dies → another takes its
 * names over; etcd stops mid-run and restarts → serving continues and no update is lost; health
 * written by one replica is served by all.
 */
import { Etcd3 } from "etcd3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { decodeAnswer } from "../../src/cache/answer-codec.js";
import { type CachingResolver, createCachingResolver } from "../../src/cache/caching-resolver.js";
import type { Answer } from "../../src/dns/types.js";
import { type EtcdServer, startEtcd } from "../support/etcd-server.js";
import { until } from "../support/wait-for.js";
import { aRec, FakeUpstream } from "./fake-upstream.js";

let etcd: EtcdServer;
let seq = 0;
const replicas: CachingResolver[] = [];

function replica(upstream: FakeUpstream, prefix: string, id: string): CachingResolver {
  const r = createCachingResolver({
    upstream,
    replicaId: id,
    etcd: {
      endpoints: etcd.endpoints,
      prefix,
      sessionTtlSeconds: 2,
      shards: 16,
      opTimeoutMs: 1000,
      backoffBaseMs: 50,
      backoffMaxMs: 500,
    },
    followerGraceMs: 20_000,
  });
  replicas.push(r);
  return r;
}

async function fleet(n: number, upstream: FakeUpstream): Promise<{ rs: CachingResolver[]; prefix: string }> {
  const prefix = `/fleet-${++seq}/`;
  const rs = Array.from({ length: n }, (_, i) => replica(upstream, prefix, `r${i}`));
  await Promise.all(rs.map((r) => r.start()));
  // Settled: every replica sees every member and the shards are all claimed exactly once.
  await until(
    () =>
      rs.every((r) => r.status().ownership?.members.length === n && r.status().ownership?.balanced) &&
      rs.reduce((s, r) => s + (r.status().ownership?.ownedShards.length ?? 0), 0) === 16,
    10_000,
    "ownership to settle",
  );
  return { rs, prefix };
}

beforeAll(async () => {
  etcd = await startEtcd();
});
afterEach(async () => {
  await Promise.all(replicas.splice(0).map((r) => r.close()));
});
afterAll(async () => {
  await etcd?.close();
});

describe("replica fleet on one etcd", () => {
  it("resolves each name once whatever the number of replicas, and every replica serves it", async () => {
    const names = Array.from({ length: 30 }, (_, i) => `svc${i}.fleet.test.`);
    const counts: number[] = [];
    for (const n of [1, 3]) {
      const up = new FakeUpstream();
      for (const [i, name] of names.entries()) up.set(name, "A", [aRec(`10.2.0.${i}`)], 60);
      const { rs } = await fleet(n, up);
      const seen = rs.map(() => new Set<string>());
      rs.forEach((r, i) => {
        r.onUpdate((name) => seen[i]?.add(name));
      });
      for (const r of rs) for (const name of names) r.track(name, "A");
      await until(
        () => seen.every((s) => s.size === names.length),
        10_000,
        "every replica to get every name",
      );
      for (const r of rs) {
        for (const name of names) expect((await r.resolve(name, "A")).records).toHaveLength(1);
      }
      counts.push(up.calls);
      // Shards are shared out: with 3 replicas each owns some.
      if (n === 3) for (const r of rs) expect(r.status().ownership?.ownedShards.length).toBeGreaterThan(0);
      await Promise.all(replicas.splice(0).map((r) => r.close()));
    }
    expect(counts).toEqual([names.length, names.length]);
  });

  it("moves a dead owner's names to another replica within session TTL + election time", async () => {
    const up = new FakeUpstream();
    const name = "takeover.fleet.test.";
    up.set(name, "A", [aRec("10.3.0.1", 5)], 5);
    const { rs } = await fleet(3, up);
    for (const r of rs) r.track(name, "A");
    const key = `A/${name}`;
    const owner = rs.find((r) => r.ownership().owns(key));
    if (!owner) throw new Error("nobody owns the key");
    expect(rs.filter((r) => r.ownership().owns(key))).toHaveLength(1);
    await until(() => up.calls === 1, 5000, "first resolution");
    const killedAt = Date.now();
    await owner.abandon(); // no revoke: its session lease must expire
    const rest = rs.filter((r) => r !== owner);
    await until(() => rest.some((r) => r.ownership().owns(key)), 20_000, "takeover");
    const tookMs = Date.now() - killedAt;
    // Time is the behaviour here. The dead owner's claim lives as long as its session lease: TTL 2 s
    // (set above), then etcd's lease expiry sweep (every 500 ms), a watch event and a claim round trip.
    // Without a takeover the name would move only after followerGraceMs (20 s above), so the bound
    // separates the two: the 2 s TTL plus 8 s for a loaded 2-core box, still half the 20 s fallback.
    expect(tookMs).toBeLessThan(2_000 + 8_000);
    expect(rest.filter((r) => r.ownership().owns(key))).toHaveLength(1);
    // The new owner keeps the name fresh: it gets refreshed from DNS again before expiry.
    up.set(name, "A", [aRec("10.3.0.2", 5)], 5);
    await until(
      async () =>
        (await Promise.all(rest.map((r) => r.resolve(name, "A")))).every(
          (a) => a.records[0]?.type === "A" && a.records[0].address === "10.3.0.2",
        ),
      10_000,
      "new owner's refresh to reach every replica",
    );
    const serving = await Promise.all(rest.map((r) => r.resolve(name, "A")));
    expect(serving.every((a) => !a.stale)).toBe(true);
  });

  it("keeps serving through an etcd outage and loses no update across the restart", async () => {
    const up = new FakeUpstream();
    const names = Array.from({ length: 10 }, (_, i) => `outage${i}.fleet.test.`);
    for (const name of names) up.set(name, "A", [aRec("10.4.0.1", 8)], 8);
    const { rs, prefix } = await fleet(2, up);
    const latest = rs.map(() => new Map<string, Answer>());
    rs.forEach((r, i) => {
      r.onUpdate((name, _t, a) => latest[i]?.set(name, a));
    });
    for (const r of rs) for (const name of names) r.track(name, "A");
    await until(() => latest.every((m) => m.size === names.length), 10_000, "initial answers");

    const member = etcd.members[0];
    if (!member) throw new Error("no etcd member");
    await member.stop();
    await until(() => rs.every((r) => r.status().etcd === "degraded"), 10_000, "degraded");
    // DNS changes during the outage: every replica acts alone and still picks it up (refresh-ahead at ~7 s).
    for (const name of names) up.set(name, "A", [aRec("10.4.0.2", 8)], 8);
    for (const r of rs) {
      const a = await r.resolve(names[0] ?? "", "A");
      expect(a.records).toHaveLength(1);
    }
    await until(
      () =>
        latest.every((m) =>
          names.every((n) => (m.get(n)?.records[0] as { address?: string })?.address === "10.4.0.2"),
        ),
      15_000,
      "updates during the outage",
    );
    expect(rs.every((r) => r.ownership().owns(`A/${names[0]}`))).toBe(true);

    await member.start();
    await until(() => rs.every((r) => r.status().etcd === "connected"), 15_000, "reconnect");
    // No update lost: etcd ends up holding the answers resolved during the outage.
    const check = new Etcd3({ hosts: etcd.endpoints });
    try {
      await until(
        async () => {
          const res = await check.getAll().prefix(`${prefix}v1/dns/`).exec();
          const addrs = res.kvs.map(
            (kv) => (decodeAnswer(kv.value).answer.records[0] as { address?: string })?.address,
          );
          return addrs.length === names.length && addrs.every((a) => a === "10.4.0.2");
        },
        10_000,
        "replayed writes",
      );
    } finally {
      check.close();
    }
    // Ownership is shared again after recovery.
    await until(
      () => rs.reduce((s, r) => s + (r.status().ownership?.ownedShards.length ?? 0), 0) === 16,
      10_000,
      "re-own",
    );
    for (const r of rs) for (const n of names) expect((await r.resolve(n, "A")).records).toHaveLength(1);
  });

  it("starts degraded and closes cleanly while etcd is down", async () => {
    const member = etcd.members[0];
    if (!member) throw new Error("no etcd member");
    const up = new FakeUpstream();
    up.set("down.fleet.test.", "A", [aRec("10.6.0.1")], 30);
    const { rs } = await fleet(1, up);
    await member.stop();
    try {
      const late = replica(up, "/fleet-late/", "late");
      await late.start(); // must not hang or throw: the local tier serves alone
      expect(late.status().etcd).toBe("degraded");
      expect(late.ownership().owns("A/down.fleet.test.")).toBe(true);
      expect((await late.resolve("down.fleet.test.", "A")).records).toHaveLength(1);
      await Promise.all([late.close(), rs[0]?.close()]);
    } finally {
      await member.start();
    }
  });

  it("keeps answering while etcd hangs (paused member) and recovers when it resumes", async () => {
    const member = etcd.members[0];
    if (!member) throw new Error("no etcd member");
    const up = new FakeUpstream();
    for (let i = 0; i < 5; i++) up.set(`hang${i}.fleet.test.`, "A", [aRec(`10.7.0.${i}`)], 30);
    const { rs } = await fleet(2, up);
    const [a, b] = rs;
    if (!a || !b) throw new Error("fleet");
    await a.resolve("hang0.fleet.test.", "A");
    member.pause();
    try {
      // Misses go to DNS after a short etcd wait, hits never touch etcd.
      for (let i = 1; i < 5; i++)
        expect((await a.resolve(`hang${i}.fleet.test.`, "A")).records).toHaveLength(1);
      expect((await a.resolve("hang0.fleet.test.", "A")).records).toHaveLength(1);
      await until(() => a.status().etcd === "degraded", 15_000, "hung etcd detected");
    } finally {
      member.resume();
    }
    await until(() => rs.every((r) => r.status().etcd === "connected"), 15_000, "recovery");
    await until(() => a.status().etcdTier?.pending === 0, 10_000, "A's queued writes to land");
    // What A resolved during the hang reaches B through etcd: B asks DNS for none of it.
    for (let i = 1; i < 5; i++)
      expect((await b.resolve(`hang${i}.fleet.test.`, "A")).records).toHaveLength(1);
    for (let i = 1; i < 5; i++) expect(up.callsByKey.get(`A/hang${i}.fleet.test.`)).toBe(1);
  });

  it("serves the same health on every replica", async () => {
    const up = new FakeUpstream();
    const { rs } = await fleet(2, up);
    const [a, b] = rs;
    if (!a || !b) throw new Error("fleet");
    const seen: string[] = [];
    b.healthStore().onChange((k, h) => seen.push(`${k}=${h}`));
    a.healthStore().set("10.0.0.1|8080", "UNHEALTHY");
    await until(() => b.healthStore().get("10.0.0.1|8080") === "UNHEALTHY", 5000, "health to propagate");
    a.healthStore().set("10.0.0.1|8080", "HEALTHY");
    await until(() => b.healthStore().get("10.0.0.1|8080") === "HEALTHY", 5000, "health update");
    expect(seen).toEqual(["10.0.0.1|8080=UNHEALTHY", "10.0.0.1|8080=HEALTHY"]);
  });

  it("serves what etcd holds when a replica restarts with DNS unreachable", async () => {
    const up = new FakeUpstream();
    up.set("warm.fleet.test.", "A", [aRec("10.5.0.1", 60)], 60);
    const { rs, prefix } = await fleet(1, up);
    await rs[0]?.resolve("warm.fleet.test.", "A");
    await until(() => (rs[0]?.status().etcdTier?.puts ?? 0) >= 1, 5000, "write");
    const dead = new FakeUpstream();
    dead.failing = "ERR_DNS_TIMEOUT";
    const fresh = replica(dead, prefix, "restarted");
    await fresh.start();
    const a = await fresh.resolve("warm.fleet.test.", "A");
    expect(a.records).toEqual([aRec("10.5.0.1", 60)]);
    expect(dead.calls).toBe(0);
  });
});
