/**
 * What DNS may put into one cluster, decided per cluster before anything is published or probed. The
 * rebinding guard (src/dns/address-guard.ts, with the cluster's loopback opt-out and extra ranges) drops
 * denied addresses from DNS-derived candidates; static addresses are the operator's own and pass.
 * When the guard denies every address a source gave, the source keeps its last good candidates and a
 * note says so: someone who controls a zone can freeze a source at its last good set, but can neither
 * empty it through the guard nor point it at loopback or a metadata service. Notes feed `/clusters`
 * and a metric.
 */
import { AddressGuard, embeddedIpv4Text, type GuardCategory } from "../dns/address-guard.js";
import type { ClusterSpec, SourceSpec } from "./cluster-spec.js";
import type { EndpointCandidate } from "./endpoint-candidates.js";
import { fqdn } from "./endpoint-source.js";

/** Bounded set: each kind is a metric label value. */
export type ClusterNoteKind = "rebinding_denied" | "rebinding_all_denied";

export interface ClusterNote {
  kind: ClusterNoteKind;
  /** The source it concerns, e.g. `dns:api.example.com.` */
  source: string;
  /** How many addresses (or records) it concerns. */
  count: number;
  message: string;
}

/** How a source is named in notes and remembered across config changes (indices may shift). */
export function sourceId(source: SourceSpec): string {
  if (source.kind === "dns") return `dns:${fqdn(source.name)}:${source.port}`;
  if (source.kind === "srv") return `srv:${fqdn(source.name)}`;
  return "static";
}

const sourceLabel = (source: SourceSpec): string =>
  source.kind === "static" ? "static" : `${source.kind}:${fqdn(source.name)}`;

/** Addresses listed in a note, at most; the count says how many there were. */
const LISTED = 5;

export class ClusterInputScreen {
  private guard: AddressGuard | undefined;
  private guardKey = "";
  /** Last candidates of each DNS source that the guard did not reject wholesale. */
  private readonly lastGood = new Map<string, EndpointCandidate[]>();
  private notesValue: ClusterNote[] = [];

  /** Notes of the last `screen` call. */
  get notes(): readonly ClusterNote[] {
    return this.notesValue;
  }

  /** Candidates that may be published and probed, in the order given. */
  screen(spec: ClusterSpec, candidates: readonly EndpointCandidate[]): EndpointCandidate[] {
    const guard = this.guardFor(spec);
    const notes: ClusterNote[] = [];
    const bySource = new Map<number, EndpointCandidate[]>();
    for (const c of candidates) {
      let list = bySource.get(c.sourceIndex);
      if (!list) {
        list = [];
        bySource.set(c.sourceIndex, list);
      }
      list.push(c);
    }
    const out: EndpointCandidate[] = [];
    const live = new Set<string>();
    spec.sources.forEach((source, index) => {
      const given = bySource.get(index) ?? [];
      if (source.kind === "static") {
        out.push(...given);
        return;
      }
      const id = sourceId(source);
      live.add(id);
      const kept: EndpointCandidate[] = [];
      const denied: Array<{ c: EndpointCandidate; why: GuardCategory }> = [];
      for (const c of given) {
        const why = guard.check(c.address);
        if (why === undefined) kept.push(c);
        else denied.push({ c, why });
      }
      if (denied.length > 0) {
        const shown = denied
          .slice(0, LISTED)
          .map((d) => {
            const inner = embeddedIpv4Text(d.c.address);
            return `${d.c.address} (${d.why}${inner ? ` via ${inner}` : ""})`;
          })
          .join(", ");
        const more = denied.length > LISTED ? ` and ${denied.length - LISTED} more` : "";
        notes.push({
          kind: "rebinding_denied",
          source: sourceLabel(source),
          count: denied.length,
          message: `rebinding guard dropped ${shown}${more} from ${sourceLabel(source)}`,
        });
      }
      if (kept.length === 0 && denied.length > 0) {
        // Re-checked: a reload may have tightened the guard since they were good.
        const previous = (this.lastGood.get(id) ?? [])
          .filter((c) => guard.allows(c.address))
          .map((c) => ({ ...c, sourceIndex: index }));
        notes.push({
          kind: "rebinding_all_denied",
          source: sourceLabel(source),
          count: denied.length,
          message:
            previous.length > 0
              ? `every address from ${sourceLabel(source)} was denied by the rebinding guard; keeping its last good ${previous.length} endpoint(s)`
              : `every address from ${sourceLabel(source)} was denied by the rebinding guard; it has no earlier endpoints to keep`,
        });
        out.push(...previous);
        return;
      }
      this.lastGood.set(id, kept);
      out.push(...kept);
    });
    for (const id of this.lastGood.keys()) if (!live.has(id)) this.lastGood.delete(id);
    this.notesValue = notes;
    return out;
  }

  /** Drops from `draining` the DNS-derived endpoints the cluster's guard denies. */
  pruneDenied(spec: ClusterSpec, draining: Map<string, { c: EndpointCandidate }>): void {
    const guard = this.guardFor(spec);
    for (const [key, d] of draining) {
      if (spec.sources[d.c.sourceIndex]?.kind !== "static" && !guard.allows(d.c.address))
        draining.delete(key);
    }
  }

  private guardFor(spec: ClusterSpec): AddressGuard {
    const key = `${spec.allowLoopback}|${(spec.denyRanges ?? []).join(",")}`;
    if (!this.guard || key !== this.guardKey) {
      this.guard = new AddressGuard({ allowLoopback: spec.allowLoopback, denyRanges: spec.denyRanges ?? [] });
      this.guardKey = key;
    }
    return this.guard;
  }
}
