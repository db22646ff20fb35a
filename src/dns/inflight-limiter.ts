/**
 * Bounds the queries in flight to one server (a naive resolver lost queries at 200 in flight) with a
 * bounded FIFO of waiters behind it. Waiting is abortable; a full queue fails fast with
 * ERR_DNS_OVERLOADED instead of growing without bound.
 */
import { DnsError } from "./dns-error.js";

export class InflightLimiter {
  private active = 0;
  private readonly waiters: Array<{ grant: () => void; fail: (e: DnsError) => void }> = [];

  constructor(
    readonly limit: number,
    readonly maxQueued: number,
  ) {}

  get inFlight(): number {
    return this.active;
  }

  /**
   * Takes a slot when one is free right now, without a promise or a release closure (the resolver's
   * hot path); the caller must then call `releaseSlot()` exactly once.
   */
  tryAcquire(): boolean {
    if (this.active < this.limit && this.waiters.length === 0) {
      this.active++;
      return true;
    }
    return false;
  }

  /** Gives back a slot taken by `tryAcquire` (or granted by `acquire`, via its release function). */
  releaseSlot(): void {
    const next = this.waiters.shift();
    // The slot passes straight to the next waiter, so `active` stays the same.
    if (next) next.grant();
    else this.active--;
  }

  /** Resolves with a release function once a slot is free. */
  acquire(signal?: AbortSignal): Promise<() => void> {
    const release = this.makeRelease();
    if (this.tryAcquire()) return Promise.resolve(release);
    if (this.waiters.length >= this.maxQueued) {
      return Promise.reject(
        new DnsError("ERR_DNS_OVERLOADED", `more than ${this.maxQueued} queries waiting for a server`),
      );
    }
    if (signal?.aborted) return Promise.reject(new DnsError("ERR_DNS_ABORTED", "lookup aborted"));
    return new Promise((resolve, reject) => {
      const w = {
        grant: () => {
          signal?.removeEventListener("abort", onAbort);
          resolve(release);
        },
        fail: (e: DnsError) => {
          signal?.removeEventListener("abort", onAbort);
          reject(e);
        },
      };
      const onAbort = () => {
        const i = this.waiters.indexOf(w);
        if (i >= 0) this.waiters.splice(i, 1);
        reject(new DnsError("ERR_DNS_ABORTED", "lookup aborted"));
      };
      signal?.addEventListener("abort", onAbort, { once: true });
      this.waiters.push(w);
    });
  }

  private makeRelease(): () => void {
    let released = false;
    return () => {
      if (released) return;
      released = true;
      this.releaseSlot();
    };
  }

  /** Fails every waiter (used on close). */
  failAll(e: DnsError): void {
    for (const w of this.waiters.splice(0)) w.fail(e);
  }
}
