/**
 * Candidates of one cluster, re-extracted only for the sources whose answers changed. A cluster of ten
 * names with a thousand records each rebuilds when one name changes; extracting all ten thousand
 * candidates again would make ten thousand new objects (and, downstream, new endpoint messages and
 * encodings) for nine thousand endpoints that did not change. A source's candidates are kept while the
 * answer objects it was extracted from and its spec stay the same objects: answers are immutable, and a
 * refresh with unchanged content does not reach the pipeline, so identity is the exact test.
 *
 * A name whose answer did change is extracted afresh, but each new candidate equal to one it had
 * before (same address and everything else but the record's expiry) is replaced by that earlier
 * object: a name of a thousand records with one swapped then hands the builder 999 known candidates,
 * whose endpoint messages, address checks and encodings are kept, instead of a thousand new ones. The
 * earlier object's `expiresAt` is older; nothing decides by it (the admin page asks the cache for the
 * current expiry, as it must anyway, since refreshes with unchanged content never reach the pipeline).
 *
 * SRV sources are always extracted afresh (their resolution is assembled per rebuild from the SRV answer
 * and every target's answers).
 */
import type { ClusterSpec, SourceSpec } from "./cluster-spec.js";
import { type EndpointCandidate, extractSource, type SourceResolution } from "./endpoint-candidates.js";

interface SourceEntry {
  source: SourceSpec;
  ipFamily: ClusterSpec["ipFamily"];
  a: SourceResolution["a"];
  aaaa: SourceResolution["aaaa"];
  txt: SourceResolution["txt"];
  candidates: EndpointCandidate[];
}

export class CandidateMemo {
  private entries: Array<SourceEntry | undefined> = [];

  /** Same result as `extractCandidates(spec, resolutions)`, reusing unchanged sources' candidates. */
  extract(spec: ClusterSpec, resolutions: ReadonlyArray<SourceResolution | undefined>): EndpointCandidate[] {
    const out: EndpointCandidate[] = [];
    const next: Array<SourceEntry | undefined> = [];
    // A plain loop, not forEach. A callback made on every call, with a hot loop inside, was optimised
    // by V8 again and again in a running server (W2 rebuilds one large cluster a second): this one 5
    // times and the screen's 5 times in 30 rebuilds, each time on V8's helper threads.
    for (let i = 0; i < spec.sources.length; i++) {
      const source = spec.sources[i] as SourceSpec;
      const res = resolutions[i];
      if (source.kind === "srv") {
        extractSource(spec, i, res, out);
        continue;
      }
      const prev = this.entries[i];
      let entry: SourceEntry;
      if (
        prev !== undefined &&
        prev.source === source &&
        prev.ipFamily === spec.ipFamily &&
        prev.a === res?.a &&
        prev.aaaa === res?.aaaa &&
        prev.txt === res?.txt
      ) {
        entry = prev;
      } else {
        const candidates: EndpointCandidate[] = [];
        extractSource(spec, i, res, candidates);
        if (prev !== undefined && prev.source === source && prev.ipFamily === spec.ipFamily)
          keepEqual(prev.candidates, candidates);
        entry = { source, ipFamily: spec.ipFamily, a: res?.a, aaaa: res?.aaaa, txt: res?.txt, candidates };
      }
      next[i] = entry;
      for (const c of entry.candidates) out.push(c);
    }
    this.entries = next;
    return out;
  }
}

/**
 * Puts in `next` the objects of `prev` that are equal to its entries. Both are one name's candidates in
 * address order (extractSource), so one merge walk finds them without a map of either.
 */
function keepEqual(prev: readonly EndpointCandidate[], next: EndpointCandidate[]): void {
  const first = prev[0];
  const firstNext = next[0];
  if (first === undefined || firstNext === undefined) return;
  // One extraction shares one metadata object among its candidates, and a kept candidate's metadata
  // equals its extraction's (that is checked here before keeping any), so all of one name's candidates
  // carry equal metadata: compared once, not per candidate.
  if (!sameMetadata(first.metadata, firstNext.metadata)) return;
  let j = 0;
  for (let i = 0; i < next.length; i++) {
    const n = next[i] as EndpointCandidate;
    while (j < prev.length && (prev[j] as EndpointCandidate).address < n.address) j++;
    const o = prev[j];
    if (o === undefined) return;
    if (
      o.address === n.address &&
      o.key === n.key &&
      o.sourceIndex === n.sourceIndex &&
      o.host === n.host &&
      o.family === n.family &&
      o.srvPriority === n.srvPriority &&
      o.weight === n.weight
    ) {
      next[i] = o;
    }
  }
}

function sameMetadata(a: Readonly<Record<string, string>>, b: Readonly<Record<string, string>>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  for (const k of ka) if (a[k] !== b[k]) return false;
  return true;
}
