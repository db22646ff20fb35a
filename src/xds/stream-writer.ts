/**
 * Backpressure for one response stream. Responses are pulled from a producer only when the transport can
 * take them: after `write()` returns false nothing more is written until 'drain'. Because the producer
 * builds each response from the latest state at pull time, a slow client holds at most one pending
 * response per type and intermediate versions are coalesced, so its memory cost is bounded.
 */

export interface WritableCall {
  write(chunk: Buffer): boolean;
  once(event: "drain", listener: () => void): unknown;
}

export class StreamWriter {
  private scheduled = false;
  private blocked = false;
  private closed = false;

  constructor(
    private readonly call: WritableCall,
    private readonly produce: () => Buffer | undefined,
    private readonly onError: (err: unknown) => void,
  ) {}

  /** Asks for a pump on the next turn; many kicks in one turn coalesce into one pump. */
  kick(): void {
    if (this.scheduled || this.blocked || this.closed) return;
    this.scheduled = true;
    setImmediate(() => {
      this.scheduled = false;
      this.pump();
    });
  }

  close(): void {
    this.closed = true;
  }

  get isBlocked(): boolean {
    return this.blocked;
  }

  private pump(): void {
    // Bounded: each produced response clears the state it came from; the cap guards against a producer bug.
    for (let i = 0; i < 64 && !this.blocked && !this.closed; i++) {
      let buf: Buffer | undefined;
      try {
        buf = this.produce();
      } catch (e) {
        this.onError(e);
        return;
      }
      if (!buf) return;
      if (!this.call.write(buf)) {
        this.blocked = true;
        this.call.once("drain", () => {
          this.blocked = false;
          this.pump();
        });
      }
    }
    if (!this.blocked && !this.closed) this.kick();
  }
}
