/**
 * The answer a tracked name last notified its listeners of, and whether a new one must be notified:
 * when its fingerprint (answer-fingerprint.ts) differs. The fingerprint sorts and joins every record,
 * and the history's records again; for a name of a thousand A records that was most of an idle control
 * plane's CPU, and a millisecond of every change. So the common answers (address records, a plain
 * history) are compared in one pass as multisets, which settles both outcomes: the same content, or a
 * change. Only what that pass cannot judge (SRV, TXT, targets, a pending shrink, duplicates) is
 * fingerprinted, and the remembered answer's fingerprint is taken only when such a comparison needs it.
 */
import { recordKeys } from "../dns/answer-history.js";
import type { Answer, AnswerHistory } from "../dns/types.js";
import { answerFingerprint } from "./answer-fingerprint.js";

/** What the one-pass comparison can say of a new answer against the remembered one. */
export type Comparison = "same" | "changed" | "unknown";

export class NotifiedAnswer {
  private answer: Answer | undefined;
  /** The remembered answer's fingerprint, once a comparison needed it. */
  private fingerprint: string | undefined;
  /**
   * `address` → its index in the remembered records (the index answer-history keeps for the array
   * anyway); undefined when the fast path does not apply.
   */
  private index: ReadonlyMap<string, number> | undefined;
  /** Which remembered records a comparison has matched (`epoch` marks this comparison's). */
  private marks = new Uint32Array(0);
  private epoch = 0;

  /**
   * True when `next` must be notified (its content differs from what was notified last), and then
   * remembered as the last notified answer.
   */
  update(next: Answer): boolean {
    const c = this.compare(next);
    if (c === "same") return false;
    let fp: string | undefined;
    if (c === "unknown") {
      fp = answerFingerprint(next);
      if (this.answer !== undefined) {
        this.fingerprint ??= answerFingerprint(this.answer);
        if (fp === this.fingerprint) return false;
      }
    }
    this.remember(next, fp);
    return true;
  }

  private remember(a: Answer, fingerprint: string | undefined): void {
    this.answer = a;
    this.fingerprint = fingerprint;
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

  /**
   * "same" only when `next`'s fingerprint is certain to equal the remembered answer's, "changed" only
   * when it is certain to differ, else "unknown".
   */
  compare(next: Answer): Comparison {
    const prev = this.answer;
    if (prev === undefined) return "unknown";
    // The fingerprint starts with both: either differing is a change, whatever else holds.
    if (next.rcode !== prev.rcode || next.stale !== prev.stale) return "changed";
    const index = this.index;
    if (index === undefined || next.targets !== undefined) return "unknown";
    if ((next.history === undefined) !== (prev.history === undefined)) return "unknown";
    if (!plainHistory(next, next.history)) return "unknown";
    // The remembered records are distinct address records: another count is another multiset.
    if (next.records.length !== prev.records.length) return "changed";
    // The resolver hands back the remembered array itself when a refresh brought the same records.
    if (next.records === prev.records) return "same";
    if (++this.epoch === 0xffff_ffff) {
      this.marks.fill(0);
      this.epoch = 1;
    }
    const epoch = this.epoch;
    for (const r of next.records) {
      // A record of another kind, an address not remembered, or one matched twice: another multiset.
      if (r.type !== "A" && r.type !== "AAAA") return "changed";
      const i = index.get(r.address);
      if (i === undefined || this.marks[i] === epoch || prev.records[i]?.type !== r.type) return "changed";
      this.marks[i] = epoch;
    }
    // Same length, every record matched a distinct remembered one: the same multiset.
    return "same";
  }
}

/** No history, or one that only says "this answer is the confirmed set" (no empty run, no pending shrink). */
function plainHistory(a: Answer, h: AnswerHistory | undefined): boolean {
  if (h === undefined) return true;
  return h.emptySince === undefined && h.pending === undefined && h.confirmed.records === a.records;
}
