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
  private readonly waiting: Array<{ key: string; gen: number }> = [];
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
    };
    state.spec = spec;
    state.gen++;
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
    state.gen++;
    this.probes.release?.(state.target);
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
      queued: this.waiting.length,
      probes: this.probeCount,
      failures: { ...this.failures },
    };
  }

  close(): void {
    this.closed = true;
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    this.timer = undefined;
    for (const s of this.endpoints.values()) s.gen++;
    this.endpoints.clear();
    this.waiting.length = 0;
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
    if (!owned || state.inFlight) return;
    if (this.inFlight >= this.maxConcurrent) {
      this.waiting.push({ key, gen: state.gen });
      return;
    }
    this.run(key, state);
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
    while (this.inFlight < this.maxConcurrent && this.waiting.length > 0) {
      const w = this.waiting.shift();
      if (!w) break;
      const state = this.endpoints.get(w.key);
      if (!state || state.gen !== w.gen || state.inFlight || !state.owned) continue;
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
    String(a.expectedStatuses ?? "") === String(b.expectedStatuses ?? "")
  );
}
