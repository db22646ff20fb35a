/**
 * The deadlines of issue 16 on a loaded event loop: a grace (or shrink hold) that runs out must wake its
 * cluster, and a drained endpoint must leave, whatever else ran around its deadline. Regression cases
 * for two flakes seen at load ~8 (a survivor replica still serving its inherited grace's set 8 s after
 * the grace ended, test/cache/flap-replicas; Envoy never seeing DRAINING, test/endpoints/flap-envoy;
 * endpoints never leaving EDS after the drain, test/endpoints/flap-grpc-xds). The cause: each timer was
 * re-armed only for deadlines still in the future *at the moment it was re-armed*, read from the clock
 * again; a deadline that passed between the decision and the re-arm (another cluster's rebuild running
 * before a late timer, a rebuild whose clock reading came just before the end, a timer firing under a
 * ms early as Node's do against Date.now()) was neither fired nor re-armed, and nothing else rebuilds
 * a cluster whose DNS keeps giving the same answer.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Answer } from "../../src/dns/types.js";
import { EndpointPipeline } from "../../src/endpoints/endpoint-pipeline.js";
import { FlapGuard, type FlapGuardSpec } from "../../src/endpoints/flap-guard.js";
import type { Clock } from "../../src/health/clock.js";
import { FakeClock } from "../health/fake-clock.js";
import { a, answer, cluster, dnsSource, T0 } from "./fixtures.js";
import { RecordingPublisher, rows, ScriptedSource } from "./pipeline-harness.js";

const spec: FlapGuardSpec = { emptyGraceMs: 60_000, shrinkThreshold: 0.5, shrinkHoldMs: 30_000 };
const confirmed = { records: a("x.example.com", "10.0.0.1").records, ttl: 10, resolvedAt: T0 };
/** An NXDOMAIN for `name` whose history says the empty run began at T0 (grace ends at T0 + 60 s). */
const nx = (name: string): Answer => ({
  ...answer(name, "A", [], { rcode: 3, ttl: 10, resolvedAt: T0 + 1000 }),
  history: { confirmed, emptySince: T0 },
});
const END = T0 + 60_000;

describe("a hold that runs out wakes its cluster", () => {
  it("when another cluster is decided after the end but before the late timer fired", async () => {
    const clock = new FakeClock(T0 + 1000);
    const woken: string[] = [];
    const guard = new FlapGuard({ clock, onWake: (c) => woken.push(c) });
    guard.decide("a", spec, new Map([["A a.", nx("a.example.com")]]), clock.now());
    expect(guard.holdsOf("a")).toHaveLength(1);
    // The event loop is busy past the end; the first thing to run is cluster b's rebuild.
    clock.jump(END + 50 - clock.now());
    guard.decide("b", spec, new Map([["A b.", a("b.example.com", "10.0.0.9")]]), clock.now());
    await clock.advance(0);
    expect(woken).toEqual(["a"]);
    guard.close();
  });

  it("when the decision read the clock just before the end and the timer is armed just after it", async () => {
    const clock = new FakeClock(END - 1);
    const woken: string[] = [];
    const guard = new FlapGuard({ clock, onWake: (c) => woken.push(c) });
    // A rebuild reads `now` 1 ms before the end and keeps the hold; by the time the guard arms its
    // timer the clock has passed the end.
    const decidedAt = clock.now();
    clock.jump(2);
    guard.decide("a", spec, new Map([["A a.", nx("a.example.com")]]), decidedAt);
    expect(guard.holdsOf("a")).toHaveLength(1);
    await clock.advance(10);
    expect(woken).toEqual(["a"]);
    // Woken once: no spinning while the cluster's rebuild is pending.
    await clock.advance(1000);
    expect(woken).toEqual(["a"]);
    guard.close();
  });
});

/**
 * Node's timers against Date.now(): a timer may fire up to a ms before its deadline on the wall clock,
 * and the wall clock moves between two readings. Here every reading moves the clock on by 1 ms and
 * every timer fires 1 ms before the deadline it was computed for (from the last reading).
 */
class NodeLikeClock implements Clock {
  private lastRead: number;
  private nextId = 1;
  private readonly timers = new Map<number, { due: number; fn: () => void }>();
  constructor(private t: number) {
    this.lastRead = t;
  }
  now = (): number => {
    this.lastRead = this.t;
    this.t += 1;
    return this.lastRead;
  };
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.nextId++;
    this.timers.set(id, { due: this.lastRead + Math.max(0, ms) - 1, fn });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.timers.delete(h as number);
  };
  /** Time without reading it (a reading would move it). */
  get time(): number {
    return this.t;
  }
  /** Fires due timers in order up to `until` (bounded), letting promise callbacks run between them. */
  async runTo(until: number): Promise<void> {
    for (let fires = 0; fires < 10_000; fires++) {
      await new Promise((r) => setImmediate(r));
      let next: [number, { due: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (!next || e[1].due < next[1].due) next = e;
      if (!next || next[1].due > until) break;
      this.timers.delete(next[0]);
      this.t = Math.max(this.t, next[1].due);
      next[1].fn();
    }
    this.t = Math.max(this.t, until);
    await new Promise((r) => setImmediate(r));
  }
}

let pipeline: EndpointPipeline | undefined;
afterEach(() => pipeline?.close());

describe("the pipeline's grace and drain on a clock that moves while it decides", () => {
  it("the set drains when the grace ends and leaves when the drain ends, not at some later answer", async () => {
    const clock = new NodeLikeClock(T0);
    const source = new ScriptedSource();
    const publisher = new RecordingPublisher();
    const NAME = "svc.example.com";
    pipeline = new EndpointPipeline({ source, publisher, clock, debounceMs: 100 });
    source.set({ ...a(NAME, "10.0.0.1", "10.0.0.2"), resolvedAt: T0 });
    pipeline.setClusters([
      cluster({
        name: "svc",
        ipFamily: "V4_ONLY",
        sources: [dnsSource(NAME, 8080)],
        drainMs: 5000,
        flapGuard: { ...spec, emptyGraceMs: 20_000 },
      }),
    ]);
    await clock.runTo(T0 + 500);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:8080 UNKNOWN", "0 10.0.0.2:8080 UNKNOWN"]);
    const grace = clock.time;
    source.push(answer(NAME, "A", [], { rcode: 3, ttl: 5, resolvedAt: grace }));
    await clock.runTo(grace + 500);
    expect(pipeline.snapshot()[0]?.holds.map((h) => h.until)).toEqual([grace + 20_000]);
    // DNS keeps answering NXDOMAIN with the same facts: nothing but the guard's own timers rebuilds.
    const drainedBy = grace + 20_000 + 100 + 50;
    await clock.runTo(drainedBy);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:8080 DRAINING", "0 10.0.0.2:8080 DRAINING"]);
    const goneBy = drainedBy + 5000 + 100 + 50;
    await clock.runTo(goneBy);
    expect(rows(publisher.lastCla("svc"))).toEqual([]);
  });
});
