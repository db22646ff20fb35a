/**
 * A cluster's grace for empty answers and damping for shrinking ones (issue 16), applied to the facts an
 * answer's history carries (src/dns/answer-history.ts). `guardAnswer` is pure: the same answer, spec and
 * time give the same decision on every replica, which is how replicas agree without talking. The
 * `FlapGuard` class remembers each cluster's current holds to report their start and end (logs,
 * metrics, /clusters) and wakes the pipeline when a hold runs out.
 */
import { isEmptyAnswer, recordKeys, sameRecords } from "../dns/answer-history.js";
import type { Answer, AnswerContent } from "../dns/types.js";
import type { Clock } from "../health/clock.js";
import type { FlapGuardSpec } from "./cluster-spec.js";

export type { FlapGuardSpec } from "./cluster-spec.js";

/** "auto" grace: at least this long… */
export const AUTO_GRACE_FLOOR_MS = 60_000;
/** …and at least this many TTLs of the last confirmed answer. */
export const AUTO_GRACE_TTLS = 2;

/** The grace a spec gives a name whose last confirmed answer had `ttlSeconds`. */
export function graceMs(spec: FlapGuardSpec, ttlSeconds: number): number {
  if (spec.emptyGraceMs !== "auto") return spec.emptyGraceMs;
  return Math.max(AUTO_GRACE_FLOOR_MS, AUTO_GRACE_TTLS * ttlSeconds * 1000);
}

export type Hold =
  | {
      kind: "empty";
      /** 3 NXDOMAIN, 0 NODATA. */
      rcode: number;
      /** First empty answer (its resolvedAt, from the history: the same on every replica). */
      since: number;
      /** When the grace ends and the set drains. */
      until: number;
      /** Records of the set still served. */
      records: number;
    }
  | {
      kind: "shrink";
      /** When the shrunken answer was seen. */
      since: number;
      /** When it applies if not seen again before. */
      until: number;
      /** Records of the confirmed answer still served, and of the held one. */
      from: number;
      to: number;
    };

export interface Guarded {
  /** The answer to build endpoints from: the one given, or one carrying the held records. */
  answer: Answer;
  /** Set while something is held. */
  hold?: Hold;
}

/** True when `next` is smaller than `base` and lacks more than the threshold's share of it. */
export function isBigShrink(base: AnswerContent, next: AnswerContent, threshold: number): boolean {
  const before = recordKeys(base.records);
  const after = recordKeys(next.records);
  if (before.size === 0 || after.size >= before.size) return false;
  let missing = 0;
  for (const k of before.keys()) if (!after.has(k)) missing++;
  return missing / before.size > threshold;
}

function serving(answer: Answer, content: AnswerContent): Answer {
  const out: Answer = { ...answer, rcode: 0, records: content.records };
  if (content.targets) out.targets = content.targets;
  else delete out.targets;
  return out;
}

/**
 * What a cluster with `spec` builds from `answer` at `now`. Without a spec or a history the answer is
 * taken as it is (today's behaviour: empty drains, shrinks apply).
 */
export function guardAnswer(answer: Answer, spec: FlapGuardSpec | undefined, now: number): Guarded {
  const h = answer.history;
  if (!spec || !h) return { answer };
  // The non-empty set this cluster serves from the facts: the confirmed one, or a pending shrink that
  // is small enough or whose hold has run out.
  let base = h.confirmed;
  let shrink: Hold | undefined;
  if (h.pending) {
    const until = h.pending.since + spec.shrinkHoldMs;
    if (
      spec.shrinkHoldMs > 0 &&
      now < until &&
      isBigShrink(h.confirmed, h.pending.content, spec.shrinkThreshold)
    ) {
      shrink = {
        kind: "shrink",
        since: h.pending.since,
        until,
        from: h.confirmed.records.length,
        to: h.pending.content.records.length,
      };
    } else {
      base = h.pending.content;
    }
  }
  if (isEmptyAnswer(answer)) {
    if (h.emptySince === undefined) return { answer };
    const until = h.emptySince + graceMs(spec, h.confirmed.ttl);
    if (now >= until) return { answer };
    return {
      answer: serving(answer, base),
      hold: { kind: "empty", rcode: answer.rcode, since: h.emptySince, until, records: base.records.length },
    };
  }
  if (shrink) return { answer: serving(answer, base), hold: shrink };
  return { answer };
}

/** How a hold ended. */
export type HoldOutcome =
  /** empty: the name answered records again inside the grace. */
  | "answered"
  /** empty: the grace ran out; the set drains. */
  | "expired"
  /** shrink: the same answer was seen again and applies. */
  | "confirmed"
  /** shrink: the hold ran out before a second sighting; the answer applies. */
  | "hold-expired"
  /** shrink: the name answered differently (back to a larger set, or another answer). */
  | "withdrawn"
  /** The cluster's config changed so that nothing is held any more, or it stopped using the name. */
  | "released";

export type HoldEvent =
  | { phase: "start"; cluster: string; lookup: string; hold: Hold }
  | { phase: "end"; cluster: string; lookup: string; hold: Hold; outcome: HoldOutcome };

/** A hold as /clusters shows it. */
export type HoldView = Hold & { lookup: string };

export interface FlapGuardOptions {
  clock: Clock;
  /** A hold of this cluster ran out: rebuild it. */
  onWake: (cluster: string) => void;
  onEvent?: (e: HoldEvent) => void;
}

interface Held {
  hold: Hold;
  /** Records of the held (pending) answer, to tell a confirmation from a withdrawal. */
  pending?: AnswerContent;
  /** Its end was reported (onWake); the cluster's rebuild ends it. */
  woken?: boolean;
}

const iso = (ms: number): string => new Date(ms).toISOString();

/** One line for /clusters, e.g. `A api.example.com.: NXDOMAIN since …, serving the last set until …`. */
export function describeHold(h: HoldView): string {
  if (h.kind === "empty") {
    const what = h.rcode === 3 ? "NXDOMAIN" : "empty answer (NODATA)";
    return `${h.lookup}: ${what} since ${iso(h.since)}, serving the last set (${h.records} records) until ${iso(h.until)}`;
  }
  return `${h.lookup}: shrink held: seen once (${h.from} → ${h.to} records at ${iso(h.since)}), applies when seen again or at ${iso(h.until)}`;
}

export class FlapGuard {
  private readonly holds = new Map<string, Map<string, Held>>();
  private timer: unknown;
  private timerAt = Number.POSITIVE_INFINITY;

  constructor(private readonly opts: FlapGuardOptions) {}

  /**
   * Decides every lookup of one cluster at `now`, reports holds that started or ended since its last
   * decision, and arms the wake-up for the earliest hold to run out. Returns the answers to build from.
   */
  decide(
    cluster: string,
    spec: FlapGuardSpec | undefined,
    answers: ReadonlyMap<string, Answer>,
    now: number,
  ): Map<string, Answer> {
    const out = new Map<string, Answer>();
    const before = this.holds.get(cluster) ?? new Map<string, Held>();
    const after = new Map<string, Held>();
    for (const [lookup, answer] of answers) {
      const g = guardAnswer(answer, spec, now);
      out.set(lookup, g.answer);
      const prev = before.get(lookup);
      const same = prev && g.hold && prev.hold.kind === g.hold.kind && prev.hold.since === g.hold.since;
      if (prev && !same)
        this.emit({
          phase: "end",
          cluster,
          lookup,
          hold: prev.hold,
          outcome: outcomeOf(prev, answer, spec, now),
        });
      if (g.hold) {
        const held: Held = { hold: g.hold };
        if (g.hold.kind === "shrink" && answer.history?.pending)
          held.pending = answer.history.pending.content;
        after.set(lookup, held);
        if (!same) this.emit({ phase: "start", cluster, lookup, hold: g.hold });
      }
    }
    for (const [lookup, prev] of before) {
      if (!answers.has(lookup))
        this.emit({ phase: "end", cluster, lookup, hold: prev.hold, outcome: "released" });
    }
    if (after.size > 0) this.holds.set(cluster, after);
    else this.holds.delete(cluster);
    this.arm();
    return out;
  }

  /** The cluster's current holds, for /clusters. */
  holdsOf(cluster: string): HoldView[] {
    const held = this.holds.get(cluster);
    if (!held) return [];
    return [...held]
      .map(([lookup, h]) => ({ ...h.hold, lookup }))
      .sort((a, b) => (a.lookup < b.lookup ? -1 : 1));
  }

  /** The cluster is gone: its holds end without a rebuild. */
  forget(cluster: string): void {
    const held = this.holds.get(cluster);
    if (!held) return;
    this.holds.delete(cluster);
    for (const [lookup, h] of held)
      this.emit({ phase: "end", cluster, lookup, hold: h.hold, outcome: "released" });
  }

  close(): void {
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.holds.clear();
  }

  private emit(e: HoldEvent): void {
    try {
      this.opts.onEvent?.(e);
    } catch {
      // A listener's failure must not stop a rebuild.
    }
  }

  /**
   * Wakes at the earliest end not yet reported, even one already past: the time a decision was made at,
   * the time the timer is armed at and the time it fires at are different readings of the clock, and an
   * end that falls between two of them must still wake its cluster (a name that keeps giving the same
   * answer triggers no other rebuild). A hold is reported once; its cluster's rebuild ends it.
   */
  private arm(): void {
    let next = Number.POSITIVE_INFINITY;
    for (const held of this.holds.values())
      for (const h of held.values()) if (!h.woken) next = Math.min(next, h.hold.until);
    if (next === this.timerAt) return;
    if (this.timer !== undefined) this.opts.clock.clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = next;
    if (next === Number.POSITIVE_INFINITY) return;
    this.timer = this.opts.clock.setTimeout(
      () => {
        this.timer = undefined;
        this.timerAt = Number.POSITIVE_INFINITY;
        // One reading for every hold: what is not due at it is armed again (a timer may fire early).
        const now = this.opts.clock.now();
        const due = new Set<string>();
        for (const [cluster, held] of this.holds)
          for (const h of held.values())
            if (!h.woken && h.hold.until <= now) {
              h.woken = true;
              due.add(cluster);
            }
        this.arm();
        for (const cluster of due) this.opts.onWake(cluster);
      },
      Math.max(0, next - this.opts.clock.now()),
    );
  }
}

function outcomeOf(prev: Held, answer: Answer, spec: FlapGuardSpec | undefined, now: number): HoldOutcome {
  const h = answer.history;
  if (!spec || !h) return "released";
  if (prev.hold.kind === "empty") {
    if (!isEmptyAnswer(answer)) return "answered";
    if (h.emptySince === prev.hold.since && now >= prev.hold.until) return "expired";
    return "released";
  }
  if (h.pending && h.pending.since === prev.hold.since)
    return now >= prev.hold.until ? "hold-expired" : "released";
  // Still within its run, but the facts moved on: the pending answer became the confirmed one, or not.
  const pending = prev.pending;
  if (pending && !h.pending && sameRecords(pending.records, h.confirmed.records)) return "confirmed";
  return "withdrawn";
}

/** The log message of a hold starting or ending. */
export function holdEventMessage(e: HoldEvent): string {
  const until = iso(e.hold.until);
  if (e.phase === "start") {
    return e.hold.kind === "empty"
      ? `${e.hold.rcode === 3 ? "NXDOMAIN" : "empty answer"} for ${e.lookup} after records: serving the last set until ${until}`
      : `shrink held for ${e.lookup}: ${e.hold.from} → ${e.hold.to} records seen once; applies when seen again or at ${until}`;
  }
  const how: Record<HoldOutcome, string> = {
    answered: "the name answered records again",
    expired: "the grace ran out, the last set drains",
    confirmed: "seen again, the smaller set applies",
    "hold-expired": "the hold ran out, the smaller set applies",
    withdrawn: "the name answered differently, the held answer is dropped",
    released: "the cluster no longer holds it",
  };
  return `${e.hold.kind === "empty" ? "grace" : "shrink hold"} for ${e.lookup} ended: ${how[e.outcome]}`;
}
