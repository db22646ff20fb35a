/**
 * Which (server, type, name) answered truncated over UDP lately. A name whose answer does not fit a UDP
 * reply (a thousand A records, say) is asked over TCP straight away on its next refreshes, instead of
 * asking over UDP, getting TC=1 and asking again over TCP: one query at the server per refresh instead
 * of two, and no UDP reply to decode and drop (RFC 7766 §6.2.2 leaves the choice of transport to the
 * client). An entry expires, so a name whose answer shrank goes back to UDP; the memo is bounded, the
 * oldest entry going first.
 */
export class TruncationMemo {
  private readonly until = new Map<string, number>();

  constructor(
    private readonly ttlMs: number,
    private readonly maxEntries: number,
  ) {}

  /** Remembers that `key` answered truncated at `now`. */
  note(key: string, now: number): void {
    this.until.delete(key);
    this.until.set(key, now + this.ttlMs);
    if (this.until.size > this.maxEntries) {
      const oldest = this.until.keys().next().value;
      if (oldest !== undefined) this.until.delete(oldest);
    }
  }

  /** True while `key`'s last UDP answer was truncated, within the memo's lifetime. */
  tcpFirst(key: string, now: number): boolean {
    const t = this.until.get(key);
    if (t === undefined) return false;
    if (now < t) return true;
    this.until.delete(key);
    return false;
  }

  get size(): number {
    return this.until.size;
  }
}
