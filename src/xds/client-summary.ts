/**
 * One word per client and type, as `dns-eds status`, `/clients` and the client-state gauges show it:
 * NACKED if any resource of the type is in ERROR, else STALE if any is STALE (since the oldest), else
 * NOT_SENT if the client waits for a name that does not exist, else SYNCED. A type the client did not
 * subscribe to has no state.
 */
import type { ResourceConfigStatus } from "./stream-status.js";

export type TypeState = "SYNCED" | "STALE" | "NACKED" | "NOT_SENT";

export interface TypeSummary {
  state: TypeState;
  /** For STALE: since when the oldest stale resource has been waiting, if known. */
  staleSince: number | undefined;
}

export function summarizeType(
  resources: Iterable<{ status: ResourceConfigStatus; staleSince: number | undefined }>,
): TypeSummary | undefined {
  let any = false;
  let error = false;
  let stale = false;
  let notSent = false;
  let staleSince: number | undefined;
  for (const r of resources) {
    any = true;
    if (r.status === "ERROR") error = true;
    else if (r.status === "STALE") {
      stale = true;
      if (r.staleSince !== undefined && (staleSince === undefined || r.staleSince < staleSince)) {
        staleSince = r.staleSince;
      }
    } else if (r.status === "NOT_SENT") notSent = true;
  }
  if (!any) return undefined;
  if (error) return { state: "NACKED", staleSince: undefined };
  if (stale) return { state: "STALE", staleSince };
  return { state: notSent ? "NOT_SENT" : "SYNCED", staleSince: undefined };
}

/** Gauge states: each client counts once per type it subscribed to. */
export type ClientStateLabel = "synced" | "stale" | "stale_over_30s" | "nacked" | "not_sent";
export const CLIENT_STATE_LABELS: readonly ClientStateLabel[] = [
  "synced",
  "stale",
  "stale_over_30s",
  "nacked",
  "not_sent",
];
/** How long a client may stay STALE before it counts as `stale_over_30s` (the alert's threshold). */
export const STALE_ALERT_MS = 30_000;

/**
 * Clients per type label (cds, eds, lds, rds) and state. A STALE type whose start is unknown counts as
 * `stale` (not over 30 s): it became stale by a change still queued, which has its own push metric.
 */
export function countClientStates(
  clients: Iterable<{
    resources: ReadonlyArray<{
      typeUrl: string;
      status: ResourceConfigStatus;
      staleSince: number | undefined;
    }>;
  }>,
  now: number,
  labelOf: (typeUrl: string) => string,
): Map<string, Record<ClientStateLabel, number>> {
  const out = new Map<string, Record<ClientStateLabel, number>>();
  for (const c of clients) {
    const byType = new Map<string, Array<{ status: ResourceConfigStatus; staleSince: number | undefined }>>();
    for (const r of c.resources) {
      const list = byType.get(r.typeUrl);
      if (list) list.push(r);
      else byType.set(r.typeUrl, [r]);
    }
    for (const [typeUrl, rs] of byType) {
      const s = summarizeType(rs);
      if (!s) continue;
      const label: ClientStateLabel =
        s.state === "NACKED"
          ? "nacked"
          : s.state === "STALE"
            ? s.staleSince !== undefined && now - s.staleSince > STALE_ALERT_MS
              ? "stale_over_30s"
              : "stale"
            : s.state === "NOT_SENT"
              ? "not_sent"
              : "synced";
      const type = labelOf(typeUrl);
      let counts = out.get(type);
      if (!counts) {
        counts = { synced: 0, stale: 0, stale_over_30s: 0, nacked: 0, not_sent: 0 };
        out.set(type, counts);
      }
      counts[label]++;
    }
  }
  return out;
}
