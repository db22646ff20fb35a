/**
 * Backpressure for one response stream. Responses are pulled from a producer only when the transport has
 * taken the previous one: at most one response per stream is in flight (written but not yet flushed by
 * grpc-js/HTTP/2), and after `write()` returns false nothing more is written until 'drain'. grpc-js alone
 * would buffer ~32 messages for a client that stopped reading; waiting for each write's completion keeps
 * that to one. Because the producer builds each response from the latest state at pull time, a slow client
 * holds at most one pending response per type and intermediate versions are coalesced.
 */
import { useFramedWrites } from "./framed-writes.js";

export interface WritableCall {
  write(chunk: Buffer, cb?: (err?: Error | null) => void): boolean;
  once(event: "drain", listener: () => void): unknown;
}

/**
 * Writers kicked during one turn, pumped together on the next: a fan-out kicks a thousand writers from
 * one store notification, and one setImmediate for all of them costs less than one each.
 */
const kicked = new Set<StreamWriter>();
let flushScheduled = false;

function flushKicked(): void {
  flushScheduled = false;
  // Writers kicked while this runs (a pump that frees another) wait for the next turn, as before.
  const batch = [...kicked];
  kicked.clear();
  for (const w of batch) w.runScheduled();
}

export class StreamWriter {
  private scheduled = false;
  private blocked = false;
  private inFlight = false;
  private closed = false;

  constructor(
    private readonly call: WritableCall,
    private readonly produce: () => Buffer | undefined,
    private readonly onError: (err: unknown) => void,
  ) {
    // Responses come framed from the encoder; let this stream write them without grpc-js's copy.
    useFramedWrites(call);
  }

  /** Asks for a pump on the next turn; many kicks in one turn coalesce into one pump. */
  kick(): void {
    if (this.scheduled || this.blocked || this.inFlight || this.closed) return;
    this.scheduled = true;
    kicked.add(this);
    if (!flushScheduled) {
      flushScheduled = true;
      setImmediate(flushKicked);
    }
  }

  /** @internal The pump a kick asked for (called by the shared flush on the next turn). */
  runScheduled(): void {
    this.scheduled = false;
    this.pump();
  }

  close(): void {
    this.closed = true;
  }

  /** True while the transport has not taken the last response (client slow or stalled). */
  get isBlocked(): boolean {
    return this.blocked || this.inFlight;
  }

  private pump(): void {
    if (this.blocked || this.inFlight || this.closed) return;
    let buf: Buffer | undefined;
    try {
      buf = this.produce();
    } catch (e) {
      this.onError(e);
      return;
    }
    if (!buf) return;
    this.inFlight = true;
    const ok = this.call.write(buf, () => {
      this.inFlight = false;
      // Next response right away if one is pending; the producer decides.
      if (!this.blocked) this.pump();
    });
    if (!ok) {
      this.blocked = true;
      this.call.once("drain", () => {
        this.blocked = false;
        this.pump();
      });
    }
  }
}
