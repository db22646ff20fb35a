/**
 * Concurrent lookups of the same key share one execution. Each caller may abort on its own without
 * disturbing the others; the shared work is aborted only when every caller has gone.
 */
import { DnsError } from "./dns-error.js";

interface Flight<T> {
  promise: Promise<T>;
  callers: number;
  /** Only when the first caller can abort: a caller without a signal never leaves, so nothing to abort. */
  controller: AbortController | undefined;
}

export class Singleflight<T> {
  private readonly flights = new Map<string, Flight<T>>();

  get size(): number {
    return this.flights.size;
  }

  do(key: string, work: (signal: AbortSignal | undefined) => Promise<T>, signal?: AbortSignal): Promise<T> {
    if (signal?.aborted) return Promise.reject(new DnsError("ERR_DNS_ABORTED", "lookup aborted"));
    let f = this.flights.get(key);
    if (!f) {
      // Creating an AbortController costs more than the rest of a lookup's bookkeeping; skip it when
      // the shared work can never be aborted.
      const controller = signal ? new AbortController() : undefined;
      const flight: Flight<T> = { callers: 0, controller, promise: undefined as unknown as Promise<T> };
      this.flights.set(key, flight);
      let promise: Promise<T>;
      try {
        promise = work(controller?.signal);
      } catch (e) {
        promise = Promise.reject(e);
      }
      // The first reaction on the work's promise, so the flight is gone before any caller resumes; it
      // also marks a rejection handled when every caller of an abortable flight has left.
      const end = () => {
        if (this.flights.get(key) === flight) this.flights.delete(key);
      };
      promise.then(end, end);
      flight.promise = promise;
      f = flight;
    }
    const flight = f;
    flight.callers++;
    // A caller without a signal never leaves, so its count never needs to go down again: the flight
    // leaves the map when the work settles.
    if (!signal) return flight.promise;
    return new Promise<T>((resolve, reject) => {
      let left = false;
      const leave = () => {
        if (left) return;
        left = true;
        flight.callers--;
        signal.removeEventListener("abort", onAbort);
      };
      const onAbort = () => {
        leave();
        if (flight.callers === 0) {
          if (this.flights.get(key) === flight) this.flights.delete(key);
          flight.controller?.abort();
        }
        reject(new DnsError("ERR_DNS_ABORTED", "lookup aborted"));
      };
      signal.addEventListener("abort", onAbort, { once: true });
      flight.promise.then(
        (v) => {
          leave();
          resolve(v);
        },
        (e) => {
          leave();
          reject(e);
        },
      );
    });
  }
}
