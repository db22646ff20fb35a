/**
 * One timer for many per-try deadlines. A Node timer per query (create, insert, clear) was a measurable
 * part of a cold lookup; here queries sit in an intrusive list ordered by deadline and a single timer is
 * armed for the earliest one. Tries of one resolver share one timeout, so an insert lands at the tail
 * in O(1); removing a settled query is O(1) and never touches the timer (a timer that fires early
 * re-arms for the new head). `now` is injectable so the ordering logic is testable without real time.
 */

/** Fields a queued item carries; owned by the queue while the item is queued. */
export interface DeadlineEntry {
  deadline: number;
  dqPrev: DeadlineEntry | null;
  dqNext: DeadlineEntry | null;
  dqQueued: boolean;
  /** Called once when the deadline passes while still queued (the item is already unlinked). */
  expire(): void;
}

/**
 * Timers fire on libuv's cached loop time, which may lag the clock by up to a millisecond, so a timer
 * can fire just before the deadline it was armed for; such entries expire then rather than re-arming
 * for a sub-millisecond remainder.
 */
const EARLY_FIRE_SLACK_MS = 1;

export class DeadlineQueue {
  private head: DeadlineEntry | null = null;
  private tail: DeadlineEntry | null = null;
  private timer: ReturnType<typeof setTimeout> | undefined;
  private timerAt = Number.POSITIVE_INFINITY;
  private size_ = 0;
  private readonly onTimer = () => this.fire();

  constructor(private readonly now: () => number = () => performance.now()) {}

  get size(): number {
    return this.size_;
  }

  add(e: DeadlineEntry, timeoutMs: number): void {
    if (e.dqQueued) this.remove(e);
    e.deadline = this.now() + timeoutMs;
    // Walk back from the tail: with one timeout per resolver the new deadline is the latest.
    let after = this.tail;
    while (after !== null && after.deadline > e.deadline) after = after.dqPrev;
    e.dqPrev = after;
    e.dqNext = after === null ? this.head : after.dqNext;
    if (e.dqNext === null) this.tail = e;
    else e.dqNext.dqPrev = e;
    if (after === null) this.head = e;
    else after.dqNext = e;
    e.dqQueued = true;
    this.size_++;
    if (e.deadline < this.timerAt) this.arm(e.deadline);
  }

  remove(e: DeadlineEntry): void {
    if (!e.dqQueued) return;
    if (e.dqPrev === null) this.head = e.dqNext;
    else e.dqPrev.dqNext = e.dqNext;
    if (e.dqNext === null) this.tail = e.dqPrev;
    else e.dqNext.dqPrev = e.dqPrev;
    e.dqPrev = null;
    e.dqNext = null;
    e.dqQueued = false;
    this.size_--;
    // An empty queue must not keep the process alive until a stale deadline.
    if (this.head === null) this.disarm();
  }

  /** Drops every entry without expiring it and stops the timer (used on close). */
  clear(): void {
    while (this.head !== null) this.remove(this.head);
    this.disarm();
  }

  private fire(): void {
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
    const limit = this.now() + EARLY_FIRE_SLACK_MS;
    // Expire only what was due when the timer fired: an expire() that queues a new try (failover to the
    // next server) puts it behind `limit`, so this loop is bounded by the entries present now.
    while (this.head !== null && this.head.deadline <= limit) {
      const e = this.head;
      this.remove(e);
      e.expire();
    }
    if (this.head !== null && this.head.deadline < this.timerAt) this.arm(this.head.deadline);
  }

  private arm(at: number): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timerAt = at;
    this.timer = setTimeout(this.onTimer, Math.max(0, Math.ceil(at - this.now())));
  }

  private disarm(): void {
    if (this.timer !== undefined) clearTimeout(this.timer);
    this.timer = undefined;
    this.timerAt = Number.POSITIVE_INFINITY;
  }
}
