/**
 * Keeps Envoy's `endpoint_stale_after` timer from firing while dns-eds is up. Envoy re-arms that timer
 * on every assignment it accepts (EdsClusterImpl::onConfigUpdate runs for every non-heartbeat resource,
 * changed or not, in SotW and in Delta), but the store's content-hash versions mean an unchanged
 * assignment is never sent again. So for each ClusterLoadAssignment that sets
 * `policy.endpoint_stale_after`, this re-sends it (store.resend, forced to every interested stream) once
 * per third of that time: two re-sends can be lost or late (a stream with a write in flight, a busy
 * event loop) before Envoy would empty the cluster. Clocks and timers are injectable for tests.
 */
import type { ClusterLoadAssignment } from "../gen/envoy/config/endpoint/v3/endpoint_pb.js";
import type { ResourceStore } from "./resource-store.js";
import { TYPE_URLS } from "./type-urls.js";

export interface StaleRefreshOptions {
  store: ResourceStore;
  now?: () => number;
  /** How often due re-sends are looked for (default 250 ms; a third of the shortest timer is ≥ 333 ms). */
  tickMs?: number;
  setInterval?: (fn: () => void, ms: number) => { unref?: () => void };
  clearInterval?: (handle: unknown) => void;
}

export interface StaleRefresh {
  /** Runs one pass now (what the timer does); returns the names re-sent. */
  tick(): string[];
  stop(): void;
}

/** Re-send period for a stale-after time: a third of it. */
export const resendEveryMs = (staleAfterMs: number) => Math.max(1, Math.floor(staleAfterMs / 3));

function staleAfterMsOf(cla: ClusterLoadAssignment): number {
  const d = cla.policy?.endpointStaleAfter;
  if (!d) return 0;
  return Number(d.seconds) * 1000 + Math.floor(d.nanos / 1_000_000);
}

export function startStaleRefresh(opts: StaleRefreshOptions): StaleRefresh {
  const now = opts.now ?? Date.now;
  const store = opts.store;
  /** name → when it was last (re)sent by us, or first seen with a stale-after. */
  const last = new Map<string, number>();
  const tick = (): string[] => {
    const t = now();
    const due: string[] = [];
    const seen = new Set<string>();
    for (const name of store.names(TYPE_URLS.endpoint)) {
      const cla = store.get(TYPE_URLS.endpoint, name)?.resource as ClusterLoadAssignment | undefined;
      const stale = cla ? staleAfterMsOf(cla) : 0;
      if (stale <= 0) continue;
      seen.add(name);
      const prev = last.get(name);
      if (prev === undefined) {
        // Just published (so just sent): the next re-send is a third of the time from now.
        last.set(name, t);
      } else if (t - prev >= resendEveryMs(stale)) {
        due.push(name);
        last.set(name, t);
      }
    }
    for (const name of last.keys()) if (!seen.has(name)) last.delete(name);
    if (due.length > 0) store.resend(TYPE_URLS.endpoint, due);
    return due;
  };
  const setI = opts.setInterval ?? ((fn, ms) => setInterval(fn, ms));
  const clearI = opts.clearInterval ?? ((h) => clearInterval(h as NodeJS.Timeout));
  const handle = setI(tick, opts.tickMs ?? 250);
  handle.unref?.();
  return { tick, stop: () => clearI(handle) };
}
