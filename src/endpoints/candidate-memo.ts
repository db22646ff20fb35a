/**
 * Candidates of one cluster, re-extracted only for the sources whose answers changed. A cluster of ten
 * names with a thousand records each rebuilds when one name changes; extracting all ten thousand
 * candidates again would make ten thousand new objects (and, downstream, new endpoint messages and
 * encodings) for nine thousand endpoints that did not change. A source's candidates are kept while the
 * answer objects it was extracted from and its spec stay the same objects: answers are immutable, and a
 * refresh with unchanged content does not reach the pipeline, so identity is the exact test.
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
    spec.sources.forEach((source, i) => {
      const res = resolutions[i];
      if (source.kind === "srv") {
        extractSource(spec, i, res, out);
        return;
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
        entry = { source, ipFamily: spec.ipFamily, a: res?.a, aaaa: res?.aaaa, txt: res?.txt, candidates };
      }
      next[i] = entry;
      for (const c of entry.candidates) out.push(c);
    });
    this.entries = next;
    return out;
  }
}
