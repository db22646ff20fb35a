/**
 * Runs active health checks for the endpoints this replica owns and publishes the outcome to a
 * HealthSink. Checks are spread evenly over the interval (golden-ratio phases plus jitter), so 10,000
 * endpoints at 5 s give a flat ~2,000 probes/s instead of bursts; concurrency is bounded and excess
 * probes wait in FIFO order. Thresholds stop flapping; a hard failure (refused, wrong status,
 * NOT_SERVING) marks an endpoint unhealthy at once.
 */
import { type Clock, systemClock } from "./clock.js";
import { DueQueue } from "./due-queue.js";
import { createGrpcProber } from "./grpc-check.js";
import { httpProbe } from "./http-check.js";
import { fail, type Probe, type ProbeResult, type ProbeTarget } from "./probe.js";
import { tcpProbe } from "./tcp-check.js";
import { type EndpointHealth, endpointKey, type HealthCheckSpec, type HealthSink } from "./types.js";

export class HealthSchedulerError extends Error {
  readonly code = "ERR_HEALTH_SCHEDULER_CLOSED";
}

export interface ProbeSet {
  probe(type: HealthCheckSpec["type"]): Probe;
  /** Drops per-endpoint resources (the gRPC channel) of an endpoint no longer checked. */
  release?(target: ProbeTarget): void;
  close?(): void;
}

/** The real checkers: TCP, HTTP, HTTPS and gRPC. */
export function defaultProbes(): ProbeSet {
  const grpc = createGrpcProber();
  return {
    probe: (type) => (type === "tcp" ? tcpProbe : type === "grpc" ? grpc.probe : httpProbe),
    release: (t) => grpc.release(t),
    close: () => grpc.close(),
  };
}

export interface HealthSchedulerOptions {
  sink: HealthSink;
  probes?: ProbeSet;
  /** Whether this replica checks the endpoint (fleet-wide sharding); default: owns everything. */
  owns?: (key: string) => boolean;
  /** Most probes in flight at once (default 512). */
  maxConcurrent?: number;
  /**
   * Cap on the probe start rate as a multiple of the mean rate the tracked endpoints need (default
   * 1.25; 0 = no cap). Phases alone spread checks evenly, but an event-loop stall lets due checks pile
   * up and fire together; the cap turns such a pile into a short queue instead of a burst.
   */
  paceFactor?: number;
  clock?: Clock;
  random?: () => number;
  /** Called after every probe, e.g. for metrics. */
  onProbe?: (key: string, result: ProbeResult, health: EndpointHealth) => void;
}

interface EndpointState {
  target: ProbeTarget;
  spec: HealthCheckSpec;
  health: EndpointHealth;
  okRun: number;
  failRun: number;
  gen: number;
  inFlight: boolean;
  /** Whether the last due check found this replica owning the endpoint. */
  owned: boolean;
  /** Waiting in the FIFO for a concurrency slot or a pacing token. */
  queued: boolean;
}

export interface HealthSchedulerStats {
  tracked: number;
  inFlight: number;
  queued: number;
  probes: number;
  failures: Record<string, number>;
}

const GOLDEN = 0.618_033_988_749_895;

export class HealthScheduler {
  private readonly endpoints = new Map<string, EndpointState>();
  private readonly due = new DueQueue();
  private readonly waiting = new Fifo<{ key: string; gen: number }>();
  private readonly paceFactor: number;
  /** Mean probes per ms all tracked endpoints need; the pacing cap is paceFactor times this. */
  private ratePerMs = 0;
  private tokens = Number.POSITIVE_INFINITY; // starts full: capped to the bucket size on first use
  private tokensAt = 0;
  private paceTimer: unknown;
  private readonly clock: Clock;
  private readonly random: () => number;
  private readonly maxConcurrent: number;
  private readonly probes: ProbeSet;
  private readonly owns: (key: string) => boolean;
  private timer: unknown;
  private timerDue = Number.POSITIVE_INFINITY;
  private seq = 0;
  private inFlight = 0;
  private probeCount = 0;
  private readonly failures: Record<string, number> = {};
  private closed = false;

  constructor(private readonly options: HealthSchedulerOptions) {
    this.clock = options.clock ?? systemClock;
    this.random = options.random ?? Math.random;
    this.maxConcurrent = Math.max(1, options.maxConcurrent ?? 512);
    this.probes = options.probes ?? defaultProbes();
    this.owns = options.owns ?? (() => true);
    this.paceFactor = Math.max(0, options.paceFactor ?? 1.25);
    this.tokensAt = this.clock.now();
  }

  /** Starts (or re-specs) checking an endpoint. Re-tracking with the same spec keeps its schedule. */
  track(target: ProbeTarget, spec: HealthCheckSpec): void {
    if (this.closed) throw new HealthSchedulerError("health scheduler is closed");
    const key = endpointKey(target.address, target.port);
    const existing = this.endpoints.get(key);
    if (existing && sameSpec(existing.spec, spec)) return;
    const state: EndpointState = existing ?? {
      target,
      spec,
      health: this.options.sink.get(key) ?? "UNKNOWN",
      okRun: 0,
      failRun: 0,
      gen: 0,
      inFlight: false,
      owned: true,
      queued: false,
    };
    if (existing) this.ratePerMs -= meanRate(existing.spec);
    this.ratePerMs += meanRate(spec);
    state.spec = spec;
    state.gen++;
    // A queue entry of the old generation is dropped when it reaches the head; the new one may queue.
    state.queued = false;
    this.endpoints.set(key, state);
    // Golden-ratio phases spread any number of endpoints, added at any time, evenly over the interval.
    this.seq++;
    const phase = ((this.seq * GOLDEN) % 1) + this.random() * clamp01(spec.initialJitter);
    this.schedule(key, state, this.clock.now() + (phase % 1) * spec.intervalMs);
  }

  untrack(key: string): void {
    const state = this.endpoints.get(key);
    if (!state) return;
    this.endpoints.delete(key);
    this.ratePerMs = this.endpoints.size === 0 ? 0 : this.ratePerMs - meanRate(state.spec);
    state.gen++;
    this.probes.release?.(state.target);
    // Health of an endpoint nobody lists any more is not kept (nor left in etcd) forever.
    this.options.sink.forget?.(key);
  }

  has(key: string): boolean {
    return this.endpoints.has(key);
  }

  keys(): IterableIterator<string> {
    return this.endpoints.keys();
  }

  stats(): HealthSchedulerStats {
    return {
      tracked: this.endpoints.size,
      inFlight: this.inFlight,
      queued: this.waiting.size,
      probes: this.probeCount,
      failures: { ...this.failures },
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    if (this.paceTimer !== undefined) this.clock.clearTimeout(this.paceTimer);
    this.timer = undefined;
    this.paceTimer = undefined;
    for (const s of this.endpoints.values()) s.gen++;
    this.endpoints.clear();
    this.waiting.clear();
    this.probes.close?.();
  }

  private schedule(key: string, state: EndpointState, due: number): void {
    this.due.push({ due, key, gen: state.gen });
    this.arm();
  }

  private arm(): void {
    if (this.closed) return;
    const top = this.due.peek();
    if (!top) return;
    if (this.timer !== undefined && top.due >= this.timerDue) return;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timerDue = top.due;
    this.timer = this.clock.setTimeout(() => this.fire(), Math.max(0, top.due - this.clock.now()));
  }

  private fire(): void {
    this.timer = undefined;
    this.timerDue = Number.POSITIVE_INFINITY;
    const now = this.clock.now();
    // Bounded: each entry is popped once; re-queued ones are in the future.
    for (let top = this.due.peek(); top && top.due <= now; top = this.due.peek()) {
      this.due.pop();
      const state = this.endpoints.get(top.key);
      if (!state || state.gen !== top.gen) continue;
      const next = this.nextDue(state, top.due, now);
      this.schedule(top.key, state, next);
      this.dispatch(top.key, state);
    }
    this.arm();
  }

  private nextDue(state: EndpointState, planned: number, now: number): number {
    const { intervalMs, intervalJitter } = state.spec;
    const next = planned + intervalMs * (1 + this.random() * clamp01(intervalJitter));
    // After a stall (event loop blocked, clock jump) skip missed rounds rather than bursting to catch up.
    return next <= now ? now + intervalMs * this.random() : next;
  }

  private dispatch(key: string, state: EndpointState): void {
    const owned = this.owns(key);
    if (owned && !state.owned) {
      // Ownership moved here: continue from what the previous owner published.
      state.health = this.options.sink.get(key) ?? state.health;
      state.okRun = 0;
      state.failRun = 0;
    }
    state.owned = owned;
    if (!owned || state.inFlight || state.queued) return;
    state.queued = true;
    this.waiting.push({ key, gen: state.gen });
    this.drainWaiting();
  }

  /** Refills pacing tokens; the bucket holds 100 ms worth so small bursts from timer batching pass. */
  private takeToken(): boolean {
    if (this.paceFactor === 0) return true;
    const now = this.clock.now();
    const rate = this.ratePerMs * this.paceFactor;
    const capacity = Math.max(1, rate * 100);
    this.tokens = Math.min(capacity, this.tokens + (now - this.tokensAt) * rate);
    this.tokensAt = now;
    if (this.tokens < 1) return false;
    this.tokens -= 1;
    return true;
  }

  private armPace(): void {
    if (this.paceTimer !== undefined || this.closed) return;
    const rate = this.ratePerMs * this.paceFactor;
    const wait = rate > 0 ? Math.max(1, Math.ceil((1 - this.tokens) / rate)) : 1;
    this.paceTimer = this.clock.setTimeout(() => {
      this.paceTimer = undefined;
      this.drainWaiting();
    }, wait);
  }

  private run(key: string, state: EndpointState): void {
    state.inFlight = true;
    this.inFlight++;
    this.probeCount++;
    const gen = state.gen;
    const ac = new AbortController();
    const probe = this.probes.probe(state.spec.type);
    let timeoutHandle: unknown;
    const timeout = new Promise<ProbeResult>((resolve) => {
      timeoutHandle = this.clock.setTimeout(() => {
        ac.abort();
        resolve(fail("ERR_HEALTH_TIMEOUT", `no result within ${state.spec.timeoutMs} ms`));
      }, state.spec.timeoutMs);
    });
    const attempt = probe(state.target, state.spec, ac.signal).catch((e: unknown) =>
      fail("ERR_HEALTH_PROTOCOL", `probe threw: ${(e as Error)?.message ?? String(e)}`),
    );
    void Promise.race([attempt, timeout]).then((result) => {
      this.clock.clearTimeout(timeoutHandle);
      state.inFlight = false;
      this.inFlight--;
      if (!this.closed && state.gen === gen && this.endpoints.get(key) === state)
        this.record(key, state, result);
      this.drainWaiting();
    });
  }

  private drainWaiting(): void {
    // Bounded by the queue length: each pass removes one entry or stops.
    while (this.inFlight < this.maxConcurrent && this.waiting.size > 0) {
      const w = this.waiting.peek();
      if (!w) break;
      const state = this.endpoints.get(w.key);
      if (!state || state.gen !== w.gen || state.inFlight || !state.owned) {
        this.waiting.shift();
        if (state && state.gen === w.gen) state.queued = false;
        continue;
      }
      if (!this.takeToken()) {
        this.armPace();
        return;
      }
      this.waiting.shift();
      state.queued = false;
      this.run(w.key, state);
    }
  }

  private record(key: string, state: EndpointState, result: ProbeResult): void {
    const before = state.health;
    if (result.ok) {
      state.okRun++;
      state.failRun = 0;
      if (
        before === "UNKNOWN" ||
        (before !== "HEALTHY" && state.okRun >= Math.max(1, state.spec.healthyThreshold))
      )
        state.health = "HEALTHY";
    } else {
      state.failRun++;
      state.okRun = 0;
      this.failures[result.code] = (this.failures[result.code] ?? 0) + 1;
      if (before === "UNKNOWN" || result.hard || state.failRun >= Math.max(1, state.spec.unhealthyThreshold))
        state.health = "UNHEALTHY";
    }
    if (state.health !== before || this.options.sink.get(key) !== state.health)
      this.options.sink.set(key, state.health);
    this.options.onProbe?.(key, result, state.health);
  }
}

/** Mean checks per ms one endpoint needs: the interval stretched by half the interval jitter on average. */
const meanRate = (spec: HealthCheckSpec): number =>
  1 / Math.max(1, spec.intervalMs * (1 + clamp01(spec.intervalJitter) / 2));

/** A FIFO with O(1) shift, for queues that reach tens of thousands of entries. */
class Fifo<T> {
  private items: Array<T | undefined> = [];
  private head = 0;
  get size(): number {
    return this.items.length - this.head;
  }
  push(x: T): void {
    this.items.push(x);
  }
  peek(): T | undefined {
    return this.items[this.head];
  }
  shift(): T | undefined {
    const x = this.items[this.head];
    this.items[this.head++] = undefined;
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return x;
  }
  clear(): void {
    this.items = [];
    this.head = 0;
  }
}

const clamp01 = (x: number): number => (Number.isFinite(x) ? Math.min(1, Math.max(0, x)) : 0);

function sameSpec(a: HealthCheckSpec, b: HealthCheckSpec): boolean {
  return (
    a.type === b.type &&
    a.intervalMs === b.intervalMs &&
    a.timeoutMs === b.timeoutMs &&
    a.healthyThreshold === b.healthyThreshold &&
    a.unhealthyThreshold === b.unhealthyThreshold &&
    a.initialJitter === b.initialJitter &&
    a.intervalJitter === b.intervalJitter &&
    a.path === b.path &&
    a.grpcService === b.grpcService &&
    JSON.stringify(a.tls) === JSON.stringify(b.tls) &&
    String(a.expectedStatuses ?? "") === String(b.expectedStatuses ?? "")
  );
}
