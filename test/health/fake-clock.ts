/** A manual clock for scheduler and pipeline tests: time moves only when the test advances it. */
import type { Clock } from "../../src/health/clock.js";

export class FakeClock implements Clock {
  private t: number;
  private nextId = 1;
  private readonly timers = new Map<number, { due: number; fn: () => void }>();

  constructor(start = 1_700_000_000_000) {
    this.t = start;
  }
  now = (): number => this.t;
  setTimeout = (fn: () => void, ms: number): unknown => {
    const id = this.nextId++;
    this.timers.set(id, { due: this.t + Math.max(0, ms), fn });
    return id;
  };
  clearTimeout = (h: unknown): void => {
    this.timers.delete(h as number);
  };
  get pending(): number {
    return this.timers.size;
  }

  /** Moves time without firing anything, like an event loop blocked for `ms`; the next advance() catches up. */
  jump(ms: number): void {
    this.t += ms;
  }

  /** Fires due timers in order, letting promise callbacks run between them; bounded by `maxFires`. */
  async advance(ms: number, maxFires = 1_000_000): Promise<void> {
    const end = this.t + ms;
    await flush(); // let work started before advance() (e.g. resolved lookups) land first
    for (let fires = 0; fires < maxFires; fires++) {
      let nextId = -1;
      let nextDue = Number.POSITIVE_INFINITY;
      for (const [id, tm] of this.timers) {
        if (tm.due < nextDue || (tm.due === nextDue && id < nextId)) {
          nextDue = tm.due;
          nextId = id;
        }
      }
      if (nextId < 0 || nextDue > end) break;
      const tm = this.timers.get(nextId);
      this.timers.delete(nextId);
      this.t = Math.max(this.t, nextDue);
      tm?.fn();
      await flush();
    }
    this.t = end;
    await flush();
  }
}

/** Lets pending promise callbacks (probe results) run. */
export const flush = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
