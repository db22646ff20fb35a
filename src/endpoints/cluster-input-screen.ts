/**
 * What DNS may put into one cluster, decided per cluster before anything is published or probed:
 *
 * - the rebinding guard (src/dns/address-guard.ts, with the cluster's loopback opt-out and extra
 *   ranges) drops denied addresses from DNS-derived candidates; static addresses are the operator's;
 * - caps on what a zone controls the size of (`dns.limits`): SRV targets per answer, TXT metadata keys
 *   and bytes per endpoint, endpoints per cluster;
 * - SRV targets must be host names; a target whose lookup failed is named.
 *
 * When a source breaks a cap, or the guard denies every address it gave, the source keeps its last
 * good candidates; when the cluster would pass its endpoint cap, the cluster keeps its last good set.
 * Either way a note says so (`/clusters`, `dnseds_input_held_back`). Someone who controls a zone can
 * freeze a source at its last good set, but cannot empty it through the guard, point it at loopback
 * or a metadata service, or make dns-eds track, probe and publish without bound.
 */

import { DNS_DEFAULTS } from "../config/defaults.js";
import { AddressGuard, embeddedIpv4Text, type GuardCategory } from "../dns/address-guard.js";
import { nameProblem } from "../dns/name-validation.js";
import type { ClusterSpec, InputLimits, SourceSpec } from "./cluster-spec.js";
import type { EndpointCandidate, SourceResolution } from "./endpoint-candidates.js";
import { fqdn } from "./endpoint-source.js";
import { parseTxtMetadata } from "./txt-metadata.js";

/** Bounded set: each kind is a metric label value. */
export type ClusterNoteKind =
  | "rebinding_denied"
  | "rebinding_all_denied"
  | "srv_targets_cap"
  | "txt_metadata_cap"
  | "endpoints_cap"
  | "bad_srv_target"
  | "srv_target_failed";

export interface ClusterNote {
  kind: ClusterNoteKind;
  /** The source it concerns, e.g. `dns:api.example.com.` (the cluster, for `endpoints_cap`). */
  source: string;
  /** How many addresses, targets, keys or endpoints it concerns. */
  count: number;
  message: string;
}

/** The limits a cluster is screened with: its own, else the config defaults. */
export function inputLimitsOf(spec: ClusterSpec): InputLimits {
  return spec.inputLimits ?? DNS_DEFAULTS.limits;
}

/** How a source is named in notes and remembered across config changes (indices may shift). */
export function sourceId(source: SourceSpec): string {
  if (source.kind === "dns") return `dns:${fqdn(source.name)}:${source.port}`;
  if (source.kind === "srv") return `srv:${fqdn(source.name)}`;
  return "static";
}

const sourceLabel = (source: SourceSpec): string =>
  source.kind === "static" ? "static" : `${source.kind}:${fqdn(source.name)}`;

/** Addresses (targets) listed in a note, at most; the count says how many there were. */
const LISTED = 5;

const listed = (items: readonly string[]): string =>
  `${items.slice(0, LISTED).join(", ")}${items.length > LISTED ? ` and ${items.length - LISTED} more` : ""}`;

/** Distinct SRV targets of an answer, "." (service not available) left out. */
export function srvTargetsOf(srv: SourceResolution["srv"]): string[] {
  const out = new Set<string>();
  for (const r of srv?.records ?? []) if (r.type === "SRV" && fqdn(r.target) !== ".") out.add(fqdn(r.target));
  return [...out];
}

/**
 * The SRV targets the pipeline should track for an answer under `limits`: none new when the answer
 * is over the cap (the caller keeps what it tracks), and never a name that is not a host name.
 */
export function trackableSrvTargets(
  srv: SourceResolution["srv"],
  limits: InputLimits,
): string[] | "over-cap" {
  const targets = srvTargetsOf(srv);
  if (targets.length > limits.maxSrvTargets) return "over-cap";
  return targets.filter((t) => nameProblem(t, "host") === undefined);
}

export class ClusterInputScreen {
  private guard: AddressGuard | undefined;
  private guardKey = "";
  /** Last candidates of each DNS source that broke no cap and were not all denied. */
  private readonly lastGood = new Map<string, EndpointCandidate[]>();
  /** The cluster's last set within its endpoint cap. */
  private lastGoodAll:
    | { list: readonly EndpointCandidate[]; sourceIds: ReadonlyArray<string | undefined> }
    | undefined;
  private notesValue: ClusterNote[] = [];

  /** Notes of the last `screen` call. */
  get notes(): readonly ClusterNote[] {
    return this.notesValue;
  }

  /** Candidates that may be published and probed, in the order given. */
  screen(
    spec: ClusterSpec,
    resolutions: ReadonlyArray<SourceResolution | undefined>,
    candidates: readonly EndpointCandidate[],
  ): EndpointCandidate[] {
    const guard = this.guardFor(spec);
    guard.expect(candidates.length);
    const limits = inputLimitsOf(spec);
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
    const keep = (id: string, index: number): EndpointCandidate[] =>
      // Re-checked: a reload may have tightened the guard since they were good.
      (this.lastGood.get(id) ?? [])
        .filter((c) => guard.allows(c.address))
        .map((c) => ({ ...c, sourceIndex: index }));
    const keptText = (n: number): string =>
      n > 0 ? `keeping its last good ${n} endpoint(s)` : "it has no earlier endpoints to keep";

    // A plain loop, not forEach: see candidate-memo.ts.
    for (let index = 0; index < spec.sources.length; index++) {
      const source = spec.sources[index] as SourceSpec;
      let given = bySource.get(index) ?? [];
      if (source.kind === "static") {
        out.push(...given);
        continue;
      }
      const id = sourceId(source);
      const label = sourceLabel(source);
      live.add(id);
      const res = resolutions[index];

      // Caps: the whole source keeps its last good set.
      let over: { kind: ClusterNoteKind; count: number; what: string } | undefined;
      if (source.kind === "srv") {
        const n = srvTargetsOf(res?.srv).length;
        if (n > limits.maxSrvTargets)
          over = {
            kind: "srv_targets_cap",
            count: n,
            what: `${n} SRV targets, over dns.limits.maxSrvTargets (${limits.maxSrvTargets})`,
          };
      }
      if (!over && source.txtMetadata && res?.txt) {
        const meta = parseTxtMetadata(res.txt.records);
        const keys = Object.keys(meta).length;
        let bytes = 0;
        for (const [k, v] of Object.entries(meta)) bytes += Buffer.byteLength(k) + Buffer.byteLength(v);
        if (keys > limits.maxTxtKeys)
          over = {
            kind: "txt_metadata_cap",
            count: keys,
            what: `${keys} TXT metadata keys, over dns.limits.maxTxtKeysPerEndpoint (${limits.maxTxtKeys})`,
          };
        else if (bytes > limits.maxTxtBytes)
          over = {
            kind: "txt_metadata_cap",
            count: bytes,
            what: `${bytes} bytes of TXT metadata, over dns.limits.maxTxtBytesPerEndpoint (${limits.maxTxtBytes})`,
          };
      }
      if (over) {
        const previous = keep(id, index);
        notes.push({
          kind: over.kind,
          source: label,
          count: over.count,
          message: `${label} has ${over.what}; ${keptText(previous.length)}`,
        });
        out.push(...previous);
        continue;
      }

      // SRV targets: only host names; a failed target is named (its own lookup keeps what it had).
      if (source.kind === "srv") {
        const bad = new Set<string>();
        for (const c of given) if (nameProblem(c.host, "host") !== undefined) bad.add(c.host);
        for (const t of srvTargetsOf(res?.srv)) if (nameProblem(t, "host") !== undefined) bad.add(t);
        if (bad.size > 0) {
          given = given.filter((c) => !bad.has(c.host));
          notes.push({
            kind: "bad_srv_target",
            source: label,
            count: bad.size,
            message: `${label}: SRV target(s) that are not host names, not used: ${listed([...bad].map((t) => JSON.stringify(t)))}`,
          });
        }
        const failed = [...(res?.srv?.targetErrors ?? new Map<string, string>())].filter(
          ([t]) => !bad.has(fqdn(t)),
        );
        if (failed.length > 0) {
          notes.push({
            kind: "srv_target_failed",
            source: label,
            count: failed.length,
            message: `${label}: lookup of ${listed(failed.map(([t, why]) => `${t} (${why})`))} failed; the other targets are served`,
          });
        }
      }

      // The rebinding guard, per address.
      const kept: EndpointCandidate[] = [];
      const denied: Array<{ c: EndpointCandidate; why: GuardCategory }> = [];
      for (const c of given) {
        const why = verdictOf(guard, c);
        if (why === undefined) kept.push(c);
        else denied.push({ c, why });
      }
      if (denied.length > 0) {
        const shown = denied.map((d) => {
          const inner = embeddedIpv4Text(d.c.address);
          return `${d.c.address} (${d.why}${inner ? ` via ${inner}` : ""})`;
        });
        notes.push({
          kind: "rebinding_denied",
          source: label,
          count: denied.length,
          message: `rebinding guard dropped ${listed(shown)} from ${label}`,
        });
      }
      if (kept.length === 0 && denied.length > 0) {
        const previous = keep(id, index);
        notes.push({
          kind: "rebinding_all_denied",
          source: label,
          count: denied.length,
          message: `every address from ${label} was denied by the rebinding guard; ${keptText(previous.length)}`,
        });
        out.push(...previous);
        continue;
      }
      this.lastGood.set(id, kept);
      out.push(...kept);
    }
    for (const id of this.lastGood.keys()) if (!live.has(id)) this.lastGood.delete(id);

    // The endpoint cap, over the whole cluster (an address listed by two sources counts once).
    // Distinct keys are counted only when the list could be over the cap: a set of every key of a
    // 10,000-endpoint cluster on each rebuild would cost more than the rest of the screen.
    const distinct = out.length > limits.maxEndpoints ? new Set(out.map((c) => c.key)).size : out.length;
    let result = out;
    if (distinct > limits.maxEndpoints) {
      const index = new Map(spec.sources.map((s, i) => [sourceId(s), i]));
      const last = this.lastGoodAll;
      const previous = (last?.list ?? []).flatMap((c) => {
        const id = last?.sourceIds[c.sourceIndex];
        const i = id === undefined ? undefined : index.get(id);
        return i === undefined || !guard.allows(c.address) ? [] : [{ ...c, sourceIndex: i }];
      });
      result = previous.length > 0 ? previous : truncateDistinct(out, limits.maxEndpoints);
      notes.push({
        kind: "endpoints_cap",
        source: spec.name,
        count: distinct,
        message:
          previous.length > 0
            ? `${distinct} endpoints, over dns.limits.maxEndpointsPerCluster (${limits.maxEndpoints}); keeping the last good ${previous.length}`
            : `${distinct} endpoints, over dns.limits.maxEndpointsPerCluster (${limits.maxEndpoints}), and no earlier set: publishing the first ${limits.maxEndpoints}`,
      });
    } else {
      this.lastGoodAllValue(spec, out);
    }
    this.notesValue = notes;
    return result;
  }

  /** Drops from `draining` the DNS-derived endpoints the cluster's guard denies. */
  pruneDenied(spec: ClusterSpec, draining: Map<string, { c: EndpointCandidate }>): void {
    const guard = this.guardFor(spec);
    for (const [key, d] of draining) {
      if (spec.sources[d.c.sourceIndex]?.kind !== "static" && !guard.allows(d.c.address))
        draining.delete(key);
    }
  }

  private lastGoodAllValue(spec: ClusterSpec, out: EndpointCandidate[]): void {
    // The list as it is (candidates are never changed once made) and its sources' ids: whether they
    // are still the same sources is only asked if a later answer breaks the cap.
    this.lastGoodAll = { list: [...out], sourceIds: spec.sources.map(sourceId) };
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

/**
 * The guard's verdict on a candidate, kept in a hidden slot of it (a non-enumerable symbol: copies and
 * equality never see it) for as long as the guard is the same object; the screen makes a new guard
 * whenever the cluster's guard settings change. A 10,000-endpoint cluster is screened on every rebuild
 * and its unchanged candidates are the same objects each time (candidate-memo.ts): a property load each,
 * where the guard's own memo hashed every address string again.
 */
const JUDGED_BY = Symbol("dns-eds.guard-judged-by");
const VERDICT = Symbol("dns-eds.guard-verdict");
// Two slots rather than one record: no object per candidate for what is usually "allowed".
type WithVerdict = { [JUDGED_BY]?: AddressGuard; [VERDICT]?: GuardCategory | undefined };

function verdictOf(guard: AddressGuard, c: EndpointCandidate): GuardCategory | undefined {
  const held = c as WithVerdict;
  if (held[JUDGED_BY] === guard) return held[VERDICT];
  const why = guard.check(c.address);
  if (held[JUDGED_BY] !== undefined) {
    held[JUDGED_BY] = guard;
    held[VERDICT] = why;
  } else if (Object.isExtensible(c)) {
    Object.defineProperty(c, JUDGED_BY, { value: guard, writable: true });
    Object.defineProperty(c, VERDICT, { value: why, writable: true });
  }
  return why;
}

/** The first candidates covering at most `max` distinct endpoint keys, in order. */
function truncateDistinct(list: readonly EndpointCandidate[], max: number): EndpointCandidate[] {
  const seen = new Set<string>();
  const out: EndpointCandidate[] = [];
  for (const c of list) {
    if (!seen.has(c.key)) {
      if (seen.size >= max) continue;
      seen.add(c.key);
    }
    out.push(c);
  }
  return out;
}
