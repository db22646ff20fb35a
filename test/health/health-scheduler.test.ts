import { describe, expect, it } from "vitest";
import { HealthScheduler, type ProbeSet } from "../../src/health/health-scheduler.js";
import { LocalHealthSink } from "../../src/health/local-health-sink.js";
import { fail, type ProbeResult } from "../../src/health/probe.js";
import type { EndpointHealth, HealthCheckSpec } from "../../src/health/types.js";
import { FakeClock } from "./fake-clock.js";

const spec = (over: Partial<HealthCheckSpec> = {}): HealthCheckSpec => ({
  type: "tcp",
  intervalMs: 1000,
  timeoutMs: 200,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
  initialJitter: 0,
  intervalJitter: 0,
  ...over,
});

/** Probes whose outcome the test scripts per key; records start times. */
function scripted(clock: FakeClock, outcome: (key: string) => ProbeResult | "hang") {
  const starts: Array<{ key: string; at: number }> = [];
  const released: string[] = [];
  const probes: ProbeSet = {
    probe: () => (t, _s, signal) => {
      const key = `${t.address}|${t.port}`;
      starts.push({ key, at: clock.now() });
      const o = outcome(key);
      if (o !== "hang") return Promise.resolve(o);
      return new Promise((resolve) =>
        signal.addEventListener("abort", () => resolve(fail("ERR_HEALTH_ABORTED", "x"))),
      );
    },
    release: (t) => released.push(`${t.address}|${t.port}`),
  };
  return { probes, starts, released };
}

const OK: ProbeResult = { ok: true };
const SOFT = fail("ERR_HEALTH_TIMEOUT", "slow");
const HARD = fail("ERR_HEALTH_REFUSED", "refused");

function history(sink: LocalHealthSink): Array<[string, EndpointHealth]> {
  const h: Array<[string, EndpointHealth]> = [];
  sink.onChange((k, v) => h.push([k, v]));
  return h;
}

describe("health scheduler", () => {
  it("applies thresholds to soft failures and marks hard failures unhealthy at once", async () => {
    const clock = new FakeClock();
    const sink = new LocalHealthSink();
    const changes = history(sink);
    let next: ProbeResult = OK;
    const { probes, starts } = scripted(clock, () => next);
    const s = new HealthScheduler({ sink, probes, clock, random: () => 0 });
    s.track({ address: "10.0.0.1", port: 80 }, spec());
    await clock.advance(1000);
    expect(sink.get("10.0.0.1|80")).toBe("HEALTHY"); // first result decides from UNKNOWN
    next = SOFT;
    await clock.advance(2000);
    expect(sink.get("10.0.0.1|80")).toBe("HEALTHY"); // 2 soft failures < threshold 3
    await clock.advance(1000);
    expect(sink.get("10.0.0.1|80")).toBe("UNHEALTHY");
    next = OK;
    await clock.advance(1000);
    expect(sink.get("10.0.0.1|80")).toBe("UNHEALTHY"); // 1 success < healthy threshold 2
    await clock.advance(1000);
    expect(sink.get("10.0.0.1|80")).toBe("HEALTHY");
    next = HARD;
    await clock.advance(1000);
    expect(sink.get("10.0.0.1|80")).toBe("UNHEALTHY");
    expect(changes.map(([, v]) => v)).toEqual(["HEALTHY", "UNHEALTHY", "HEALTHY", "UNHEALTHY"]);
    expect(starts.length).toBeGreaterThanOrEqual(7);
    s.close();
  });

  it("times out a hanging probe with the injected clock and counts it as soft", async () => {
    const clock = new FakeClock();
    const sink = new LocalHealthSink();
    const { probes } = scripted(clock, () => "hang");
    const s = new HealthScheduler({ sink, probes, clock, random: () => 0 });
    s.track({ address: "10.0.0.1", port: 80 }, spec({ unhealthyThreshold: 2 }));
    // The first endpoint's golden-ratio phase puts its first check at 0.618 × interval.
    await clock.advance(700);
    expect(s.stats().inFlight).toBe(1);
    expect(sink.get("10.0.0.1|80")).toBeUndefined();
    await clock.advance(200);
    expect(sink.get("10.0.0.1|80")).toBe("UNHEALTHY");
    expect(s.stats().failures.ERR_HEALTH_TIMEOUT).toBe(1);
    expect(s.stats().inFlight).toBe(0);
    s.close();
  });

  it("only probes endpoints this replica owns, and picks up from the sink when ownership arrives", async () => {
    const clock = new FakeClock();
    const sink = new LocalHealthSink();
    const owned = new Set(["10.0.0.1|80"]);
    const { probes, starts } = scripted(clock, () => OK);
    const s = new HealthScheduler({ sink, probes, clock, owns: (k) => owned.has(k), random: () => 0 });
    s.track({ address: "10.0.0.1", port: 80 }, spec());
    s.track({ address: "10.0.0.2", port: 80 }, spec());
    await clock.advance(3000);
    expect(new Set(starts.map((x) => x.key))).toEqual(new Set(["10.0.0.1|80"]));
    expect(sink.get("10.0.0.2|80")).toBeUndefined();
    sink.set("10.0.0.2|80", "UNHEALTHY"); // published by the previous owner
    owned.add("10.0.0.2|80");
    await clock.advance(1000);
    expect(sink.get("10.0.0.2|80")).toBe("UNHEALTHY"); // one success < healthy threshold 2
    await clock.advance(1000);
    expect(sink.get("10.0.0.2|80")).toBe("HEALTHY");
    s.close();
  });

  it("bounds concurrency and queues the rest in order", async () => {
    const clock = new FakeClock();
    const sink = new LocalHealthSink();
    const { probes, starts } = scripted(clock, () => "hang");
    const s = new HealthScheduler({ sink, probes, clock, maxConcurrent: 3, random: () => 0 });
    for (let i = 0; i < 10; i++)
      s.track({ address: `10.0.0.${i + 1}`, port: 80 }, spec({ intervalMs: 100, timeoutMs: 50 }));
    await clock.advance(99);
    expect(s.stats().inFlight).toBeLessThanOrEqual(3);
    await clock.advance(1000);
    expect(s.stats().inFlight).toBeLessThanOrEqual(3);
    // Every endpoint still gets checked despite the bound.
    expect(new Set(starts.map((x) => x.key)).size).toBe(10);
    s.close();
  });

  it("untrack stops probing and releases the endpoint's probe resources", async () => {
    const clock = new FakeClock();
    const sink = new LocalHealthSink();
    const { probes, starts, released } = scripted(clock, () => OK);
    const s = new HealthScheduler({ sink, probes, clock, random: () => 0 });
    s.track({ address: "10.0.0.1", port: 80 }, spec());
    await clock.advance(2000);
    const n = starts.length;
    s.untrack("10.0.0.1|80");
    await clock.advance(5000);
    expect(starts.length).toBe(n);
    expect(released).toEqual(["10.0.0.1|80"]);
    expect(s.has("10.0.0.1|80")).toBe(false);
    s.close();
    expect(() => s.track({ address: "10.0.0.1", port: 80 }, spec())).toThrow(/closed/);
  });

  it("spreads 10,000 endpoints at 5 s evenly: max per-second probe rate ≤ 1.5× the mean", async () => {
    const clock = new FakeClock();
    const sink = new LocalHealthSink();
    const { probes, starts } = scripted(clock, () => OK);
    let seed = 42;
    const random = () => {
      seed = (seed * 1_103_515_245 + 12_345) % 2 ** 31;
      return seed / 2 ** 31;
    };
    const s = new HealthScheduler({ sink, probes, clock, random, maxConcurrent: 512 });
    const t0 = clock.now();
    for (let i = 0; i < 10_000; i++)
      s.track(
        { address: `10.${i >> 16}.${(i >> 8) & 255}.${i & 255}`, port: 80 },
        spec({ intervalMs: 5000, initialJitter: 0.5, intervalJitter: 0.1 }),
      );
    await clock.advance(30_000, 400_000);
    const buckets = new Array<number>(30).fill(0);
    for (const x of starts) {
      const b = Math.floor((x.at - t0) / 1000);
      if (b >= 0 && b < 30) buckets[b] = (buckets[b] ?? 0) + 1;
    }
    const mean = buckets.reduce((a, b) => a + b, 0) / buckets.length;
    expect(mean).toBeGreaterThan(1700); // ~10,000 / (5 s × 1.05)
    expect(Math.max(...buckets)).toBeLessThanOrEqual(1.5 * mean);
    expect(Math.min(...buckets)).toBeGreaterThanOrEqual(0.5 * mean);
    s.close();
  }, 60_000);

  it("paces probe starts after an event-loop stall instead of bursting", async () => {
    const clock = new FakeClock();
    const sink = new LocalHealthSink();
    const { probes, starts } = scripted(clock, () => OK);
    const s = new HealthScheduler({ sink, probes, clock, random: () => 0.5, paceFactor: 1.25 });
    for (let i = 0; i < 1000; i++)
      s.track({ address: `10.0.${i >> 8}.${i & 255}`, port: 80 }, spec({ intervalMs: 1000 }));
    await clock.advance(3000);
    const t0 = clock.now();
    clock.jump(600); // 600 checks fall due while nothing runs
    await clock.advance(1000);
    const inWindow = (from: number, to: number) => starts.filter((x) => x.at >= from && x.at < to).length;
    // Mean need is 1,000/s; the cap is 1.25× that plus the 100 ms bucket.
    expect(inWindow(t0, t0 + 1000)).toBeLessThanOrEqual(1250 + 125 + 5);
    expect(inWindow(t0 + 600, t0 + 700)).toBeLessThanOrEqual(125 + 125 + 5);
    // The backlog is worked off, not dropped.
    await clock.advance(3000);
    expect(s.stats().queued).toBe(0);
    const perEndpoint = new Map<string, number>();
    for (const x of starts) if (x.at >= t0 + 2000) perEndpoint.set(x.key, (perEndpoint.get(x.key) ?? 0) + 1);
    expect(perEndpoint.size).toBe(1000);
    s.close();
  });

  it("two replicas sharing ownership check each endpoint once per round and share one health view", async () => {
    const clock = new FakeClock();
    const sink = new LocalHealthSink(); // stands in for the fleet-wide store
    const { probes, starts } = scripted(clock, (k) => (k.endsWith(".7|80") ? HARD : OK));
    const owner = (k: string) => [...k].reduce((h, ch) => (h * 31 + ch.charCodeAt(0)) >>> 0, 7) % 2;
    const replicas = [0, 1].map(
      (id) => new HealthScheduler({ sink, probes, clock, owns: (k) => owner(k) === id, random: () => 0.3 }),
    );
    const keys = Array.from({ length: 40 }, (_, i) => `10.0.0.${i + 1}`);
    for (const r of replicas) for (const a of keys) r.track({ address: a, port: 80 }, spec());
    await clock.advance(1000); // every first check falls within the first interval
    const t0 = clock.now();
    await clock.advance(3000);
    const perKey = new Map<string, number>();
    for (const x of starts) if (x.at >= t0) perKey.set(x.key, (perKey.get(x.key) ?? 0) + 1);
    expect(perKey.size).toBe(40);
    for (const n of perKey.values()) expect(n).toBe(3);
    expect(sink.get("10.0.0.7|80")).toBe("UNHEALTHY");
    expect(sink.get("10.0.0.8|80")).toBe("HEALTHY");
    for (const r of replicas) r.close();
  });

  it("an endpoint re-specced while it waits in the queue keeps being checked", async () => {
    const clock = new FakeClock();
    const sink = new LocalHealthSink();
    let hang = true;
    const { probes, starts } = scripted(clock, () => (hang ? "hang" : OK));
    const s = new HealthScheduler({ sink, probes, clock, maxConcurrent: 1, random: () => 0, paceFactor: 0 });
    s.track({ address: "10.0.0.1", port: 80 }, spec({ intervalMs: 100, timeoutMs: 90 }));
    s.track({ address: "10.0.0.2", port: 80 }, spec({ intervalMs: 100, timeoutMs: 90 }));
    // Phases 23.6 ms (.2) and 61.8 ms (.1): .2 hangs until its 90 ms timeout, then .1 takes the one slot
    // and hangs; .2 falls due again at 123.6 ms and waits in the queue.
    await clock.advance(130);
    expect(s.stats().queued).toBe(1);
    const waitingKey = "10.0.0.2";
    s.track({ address: waitingKey, port: 80 }, spec({ intervalMs: 200, timeoutMs: 90 }));
    hang = false;
    await clock.advance(2000);
    const later = starts.filter((x) => x.key === `${waitingKey}|80` && x.at > clock.now() - 1000);
    expect(later.length).toBeGreaterThanOrEqual(4);
    s.close();
  });
});
