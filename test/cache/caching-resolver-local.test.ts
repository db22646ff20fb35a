/**
 * The caching resolver without etcd (embedded default) against a counting in-memory upstream and an
 * injected clock: read path, singleflight, TTL policy, serve-stale (RFC 8767), refresh-ahead, onUpdate.
 */
import { afterEach, describe, expect, it, vi } from "vitest";
import { type CachingResolver, createCachingResolver } from "../../src/cache/caching-resolver.js";
import type { Answer } from "../../src/dns/types.js";
import { aRec, FakeUpstream } from "./fake-upstream.js";

const NAME = "api.example.test.";

function setup(opts: { maxEntries?: number } = {}) {
  let t = 1_000_000;
  const now = () => t;
  const up = new FakeUpstream(now);
  const r = createCachingResolver({ upstream: up, replicaId: "r1", now, localMaxEntries: opts.maxEntries });
  return { up, r, advance: (ms: number) => (t += ms) };
}

describe("caching resolver (local tier only)", () => {
  const open: CachingResolver[] = [];
  afterEach(async () => {
    vi.useRealTimers();
    await Promise.all(open.splice(0).map((r) => r.close()));
  });

  it("answers a repeat lookup from the local tier", async () => {
    const { up, r } = setup();
    open.push(r);
    up.set(NAME, "A", [aRec("10.0.0.1")], 30);
    const a1 = await r.resolve(NAME, "A");
    const a2 = await r.resolve("API.Example.Test", "A");
    expect(a1.records).toEqual([aRec("10.0.0.1")]);
    expect(a2).toBe(a1);
    expect(up.calls).toBe(1);
    expect(r.status().local.hits).toBeGreaterThanOrEqual(1);
  });

  it("reports when the cached answer expires, for any spelling of the name, and nothing for unknown names", async () => {
    const { up, r, advance } = setup();
    open.push(r);
    up.set(NAME, "A", [aRec("127.0.0.1")], 30);
    expect(r.expiresAt(NAME, "A")).toBeUndefined();
    await r.resolve(NAME, "A");
    const first = r.expiresAt("API.example.test", "A");
    expect(first).toBe(1_000_000 + 30_000);
    advance(31_000);
    await r.resolve(NAME, "A");
    expect(r.expiresAt(NAME, "A")).toBe(1_000_000 + 31_000 + 30_000);
    expect(r.expiresAt(NAME, "AAAA")).toBeUndefined();
    expect(r.expiresAt("bad..name", "A")).toBeUndefined();
  });

  it("shares one upstream fetch among concurrent misses", async () => {
    const { up, r } = setup();
    open.push(r);
    up.set(NAME, "A", [aRec("10.0.0.1")], 30);
    up.hold();
    const all = Array.from({ length: 50 }, () => r.resolve(NAME, "A"));
    await new Promise((res) => setTimeout(res, 10));
    up.unhold();
    const answers = await Promise.all(all);
    expect(up.calls).toBe(1);
    expect(new Set(answers).size).toBe(1);
  });

  it("expires entries with their clamped TTL and does not cache TTL 0", async () => {
    const { up, r, advance } = setup();
    open.push(r);
    up.set(NAME, "A", [aRec("10.0.0.1", 1)], 1);
    expect((await r.resolve(NAME, "A")).ttl).toBe(5);
    advance(4_900);
    await r.resolve(NAME, "A");
    expect(up.calls).toBe(1);
    advance(200);
    await r.resolve(NAME, "A");
    expect(up.calls).toBe(2);

    up.set("zero.example.test.", "A", [aRec("10.0.0.9", 0)], 0);
    await r.resolve("zero.example.test.", "A");
    await r.resolve("zero.example.test.", "A");
    expect(up.callsByKey.get("A/zero.example.test.")).toBe(2);
  });

  it("caches negative answers at most 3,600 s and never caches failures", async () => {
    const { up, r, advance } = setup();
    open.push(r);
    up.set("nx.example.test.", "A", [], 7_200, 3);
    const nx = await r.resolve("nx.example.test.", "A");
    expect(nx.rcode).toBe(3);
    expect(nx.ttl).toBe(3_600);
    advance(3_599_000);
    await r.resolve("nx.example.test.", "A");
    expect(up.calls).toBe(1);

    up.failing = "ERR_DNS_TIMEOUT";
    await expect(r.resolve("fail.example.test.", "A")).rejects.toMatchObject({ code: "ERR_DNS_TIMEOUT" });
    await expect(r.resolve("fail.example.test.", "A")).rejects.toMatchObject({ code: "ERR_DNS_TIMEOUT" });
    expect(up.callsByKey.get("A/fail.example.test.")).toBe(2);
  });

  it("serves the last good answer stale when upstream fails, refreshing at most every 30 s, up to the max age", async () => {
    const { up, r, advance } = setup();
    open.push(r);
    up.set(NAME, "A", [aRec("10.0.0.1")], 30);
    await r.resolve(NAME, "A");
    advance(31_000);
    up.failing = "ERR_DNS_SERVFAIL";
    const s1 = await r.resolve(NAME, "A");
    expect(s1.stale).toBe(true);
    expect(s1.records).toEqual([aRec("10.0.0.1")]);
    expect(up.calls).toBe(2);
    for (let i = 0; i < 10; i++) {
      advance(2_000);
      expect((await r.resolve(NAME, "A")).stale).toBe(true);
    }
    expect(up.calls).toBe(2);
    advance(11_000);
    await r.resolve(NAME, "A");
    expect(up.calls).toBe(3);
    up.failing = undefined;
    up.set(NAME, "A", [aRec("10.0.0.2")], 30);
    advance(31_000);
    const fresh = await r.resolve(NAME, "A");
    expect(fresh.stale).toBe(false);
    expect(fresh.records).toEqual([aRec("10.0.0.2")]);
    expect(r.status().local.staleHits).toBeGreaterThan(0);
  });

  it("stops serving stale after the max stale age", async () => {
    let t = 0;
    const up = new FakeUpstream(() => t);
    const r = createCachingResolver({
      upstream: up,
      replicaId: "r",
      now: () => t,
      policy: { maxStaleSeconds: 60 },
    });
    open.push(r);
    up.set(NAME, "A", [aRec("10.0.0.1")], 30);
    await r.resolve(NAME, "A");
    up.failing = "ERR_DNS_TIMEOUT";
    t = 89_000;
    expect((await r.resolve(NAME, "A")).stale).toBe(true);
    t = 91_000;
    await expect(r.resolve(NAME, "A")).rejects.toMatchObject({ code: "ERR_DNS_TIMEOUT" });
  });

  it("detaches an aborted caller without cancelling the shared fetch", async () => {
    const { up, r } = setup();
    open.push(r);
    up.set(NAME, "A", [aRec("10.0.0.1")], 30);
    up.hold();
    const ac = new AbortController();
    const aborted = r.resolve(NAME, "A", { signal: ac.signal });
    const other = r.resolve(NAME, "A");
    ac.abort();
    await expect(aborted).rejects.toMatchObject({ code: "ERR_DNS_ABORTED" });
    up.unhold();
    expect((await other).records).toHaveLength(1);
    expect(up.calls).toBe(1);
  });

  it("bounds the local tier by entries", async () => {
    const { up, r } = setup({ maxEntries: 10 });
    open.push(r);
    for (let i = 0; i < 20; i++) {
      up.set(`n${i}.example.test.`, "A", [aRec(`10.0.0.${i}`)], 30);
      await r.resolve(`n${i}.example.test.`, "A");
    }
    expect(r.status().local.entries).toBe(10);
    expect(r.status().local.evictions).toBe(10);
  });

  it("rejects names that are not DNS names with ERR_CACHE_BAD_NAME", async () => {
    const { r } = setup();
    open.push(r);
    await expect(r.resolve("a..b", "A")).rejects.toMatchObject({ code: "ERR_CACHE_BAD_NAME" });
  });

  it("refreshes tracked names ahead of expiry and reports changes; a DNS failure never empties them", async () => {
    vi.useFakeTimers({ now: 1_000_000 });
    const up = new FakeUpstream();
    const r = createCachingResolver({ upstream: up, replicaId: "r1" });
    open.push(r);
    up.set(NAME, "A", [aRec("10.0.0.1")], 30);
    const updates: Answer[] = [];
    r.onUpdate((_n, _t, a) => updates.push(a));
    r.track(NAME, "A");
    await vi.advanceTimersByTimeAsync(10);
    expect(up.calls).toBe(1);
    expect(updates.map((a) => a.records)).toEqual([[aRec("10.0.0.1")]]);

    up.set(NAME, "A", [aRec("10.0.0.2")], 30);
    await vi.advanceTimersByTimeAsync(27_900); // no refresh yet: the lead is capped at 1–2 s of 30 s
    expect(up.calls).toBe(1);
    await vi.advanceTimersByTimeAsync(1_200); // refresh-ahead fires 1–2 s before expiry
    expect(up.calls).toBe(2);
    expect(updates.at(-1)?.records).toEqual([aRec("10.0.0.2")]);
    // Readers never saw a miss: every lookup in the window is a hit.
    const before = up.calls;
    await r.resolve(NAME, "A");
    expect(up.calls).toBe(before);

    up.failing = "ERR_DNS_TIMEOUT";
    await vi.advanceTimersByTimeAsync(60_000);
    const last = updates.at(-1);
    expect(last?.stale).toBe(true);
    expect(last?.records).toEqual([aRec("10.0.0.2")]);
    // Retries are bounded: about one per 30 s while stale, plus the tries before expiry.
    expect(up.calls).toBeLessThan(10);
    r.untrack(NAME, "A");
  });

  it("shares health through its local HealthSink", () => {
    const { r } = setup();
    open.push(r);
    const hs = r.healthStore();
    const seen: string[] = [];
    hs.onChange((k, h) => seen.push(`${k}=${h}`));
    hs.set("10.0.0.1|80", "HEALTHY");
    hs.set("10.0.0.1|80", "HEALTHY");
    hs.set("10.0.0.1|80", "UNHEALTHY");
    expect(hs.get("10.0.0.1|80")).toBe("UNHEALTHY");
    expect(seen).toEqual(["10.0.0.1|80=HEALTHY", "10.0.0.1|80=UNHEALTHY"]);
    expect(r.ownership().owns("anything")).toBe(true);
    expect(r.status().etcd).toBe("disabled");
  });
});
