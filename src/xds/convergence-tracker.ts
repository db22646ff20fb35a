/**
 * Convergence time, as operators watch it in Istio (`pilot_proxy_convergence_time`): from a change
 * published into the store to the moment the last stream it concerned had ACKed everything it was
 * sent. One observation per store generation that reached at least one stream.
 *
 * Streams join the generations whose changes they were told about (one number per publish per
 * affected stream) and leave them when they are fully in step (nothing in flight, nothing pending),
 * after a NACK, or when they close. A generation is observed when its last stream leaves, provided at
 * least one of them converged; a stream that NACKs or disconnects is not waited for (the NACK has its
 * own metric). Bounded: at most `maxOpen` generations are tracked (the oldest is dropped unobserved),
 * and each stream keeps at most `maxPerStream`.
 */

interface OpenGeneration {
  at: number;
  waiting: number;
  converged: number;
}

export class ConvergenceTracker {
  private readonly open = new Map<number, OpenGeneration>();

  constructor(
    private readonly observe: (latencyMs: number) => void,
    private readonly now: () => number,
    private readonly maxOpen = 1_000,
    readonly maxPerStream = 64,
  ) {}

  /** A stream was told about generation `gen`, published at `at`. */
  join(gen: number, at: number): void {
    const g = this.open.get(gen);
    if (g) {
      g.waiting++;
      return;
    }
    this.open.set(gen, { at, waiting: 1, converged: 0 });
    if (this.open.size > this.maxOpen) {
      const oldest = this.open.keys().next().value;
      if (oldest !== undefined) this.open.delete(oldest);
    }
  }

  /** A stream left generation `gen`: in step (`converged`), or given up on (NACK, closed). */
  leave(gen: number, converged: boolean): void {
    const g = this.open.get(gen);
    if (!g) return;
    g.waiting--;
    if (converged) g.converged++;
    if (g.waiting > 0) return;
    this.open.delete(gen);
    if (g.converged > 0) this.observe(Math.max(0, this.now() - g.at));
  }

  /** Generations still waiting for some stream (for tests and admin). */
  get openCount(): number {
    return this.open.size;
  }
}

/** The generations one stream has joined and not yet left. */
export class StreamConvergence {
  /**
   * The latest generation joined (-1: none), and the older ones still open, oldest first: a stream in
   * step has at most one, and keeping it in a field spares each push and ACK the read of an array.
   */
  private last = -1;
  private older: number[] | undefined;

  constructor(private readonly tracker: ConvergenceTracker | undefined) {}

  joined(gen: number, at: number): void {
    if (!this.tracker || this.last === gen) return;
    if (this.last >= 0) {
      this.older ??= [];
      this.older.push(this.last);
    }
    this.last = gen;
    this.tracker.join(gen, at);
    const older = this.older;
    if (older !== undefined && older.length + 1 > this.tracker.maxPerStream) {
      this.tracker.leave(older.shift() as number, false);
    }
  }

  /** True when the stream has generations to report: the caller then checks whether it is in step. */
  get waiting(): boolean {
    return this.last >= 0;
  }

  leaveAll(converged: boolean): void {
    if (this.last < 0) return;
    const older = this.older;
    if (older !== undefined) {
      // Emptied in place: leave() never calls back here.
      for (const g of older) this.tracker?.leave(g, converged);
      older.length = 0;
    }
    this.tracker?.leave(this.last, converged);
    this.last = -1;
  }
}
