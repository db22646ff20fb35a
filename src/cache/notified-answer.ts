/**
 * The answer a tracked name last notified its listeners of, kept so that a refresh bringing the same
 * addresses back is recognised in one pass. The full fingerprint (caching-resolver.ts) sorts and joins
 * every record, and the history's records again: for a name of a thousand A records refreshed every
 * second that was most of an idle control plane's CPU.
 *
 * `sameAs` is conservative: it answers true only when the full fingerprint of the new answer would equal
 * the remembered one's (same rcode, staleness, address records as a multiset, a plain history whose
 * confirmed set is the answer itself); anything else (SRV, TXT, targets, empty answers, a pending
 * shrink, duplicates) goes to the fingerprint as before.
 */
import { recordKeys } from "../dns/answer-history.js";
import type { Answer, AnswerHistory } from "../dns/types.js";

export class NotifiedAnswer {
  private answer: Answer | undefined;
  /**
   * `address` → its index in the remembered records (the index answer-history keeps for the array
   * anyway); undefined when the fast path does not apply.
   */
  private index: ReadonlyMap<string, number> | undefined;
  /** Which remembered records a comparison has matched (`epoch` marks this comparison's). */
  private marks = new Uint32Array(0);
  private epoch = 0;

  remember(a: Answer): void {
    this.answer = a;
    this.index = undefined;
    if (a.targets !== undefined || !plainHistory(a, a.history)) return;
    const recs = a.records;
    for (const r of recs) if (r.type !== "A" && r.type !== "AAAA") return;
    const index = recordKeys(recs);
    // Duplicate addresses: left to the full fingerprint.
    if (index.size !== recs.length) return;
    this.index = index;
    if (this.marks.length < recs.length) this.marks = new Uint32Array(recs.length);
  }

  /** True when `next` is certain to carry the remembered answer's content (see the module comment). */
  sameAs(next: Answer): boolean {
    const prev = this.answer;
    const index = this.index;
    if (prev === undefined || index === undefined) return false;
    if (next.rcode !== prev.rcode || next.stale !== prev.stale || next.targets !== undefined) return false;
    if (next.records.length !== prev.records.length) return false;
    if ((next.history === undefined) !== (prev.history === undefined)) return false;
    if (!plainHistory(next, next.history)) return false;
    // The resolver hands back the remembered array itself when a refresh brought the same records.
    if (next.records === prev.records) return true;
    if (++this.epoch === 0xffff_ffff) {
      this.marks.fill(0);
      this.epoch = 1;
    }
    const epoch = this.epoch;
    for (const r of next.records) {
      if (r.type !== "A" && r.type !== "AAAA") return false;
      const i = index.get(r.address);
      if (i === undefined || this.marks[i] === epoch || prev.records[i]?.type !== r.type) return false;
      this.marks[i] = epoch;
    }
    // Same length, every record matched a distinct remembered one: the same multiset.
    return true;
  }
}

/** No history, or one that only says "this answer is the confirmed set" (no empty run, no pending shrink). */
function plainHistory(a: Answer, h: AnswerHistory | undefined): boolean {
  if (h === undefined) return true;
  return h.emptySince === undefined && h.pending === undefined && h.confirmed.records === a.records;
}
