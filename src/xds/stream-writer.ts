/**
 * Backpressure for one response stream. Responses are pulled from a producer only when the transport has
 * taken the previous one: at most one response per stream is in flight (written but not yet flushed by
 * grpc-js/HTTP/2), and after `write()` returns false nothing more is written until 'drain'. grpc-js alone
 * would buffer ~32 messages for a client that stopped reading; waiting for each write's completion keeps
 * that to one. Because the producer builds each response from the latest state at pull time, a slow client
 * holds at most one pending response per type and intermediate versions are coalesced.
 *
 * `ResponsePump` is the mechanism as a base class: an xDS stream is its own pump (its `produce` builds the
 * next response), so a fan-out's kick, pump and write completion touch the stream object alone and no
 * writer or callback object beside it.
 */
import { useFramedWrites } from "./framed-writes.js";

export interface WritableCall {
  write(chunk: Buffer, cb?: (err?: Error | null) => void): boolean;
  once(event: "drain", listener: () => void): unknown;
}

/**
 * Pumps kicked during one turn, run together on the next: a fan-out kicks a thousand streams from one
 * store notification, and one setImmediate for all of them costs less than one each. An array, not a
 * set: a pump is queued at most once per turn (its `scheduled` flag says so).
 */
let kicked: ResponsePump[] = [];
let spare: ResponsePump[] = [];
let flushScheduled = false;

function flushKicked(): void {
  flushScheduled = false;
  // Pumps kicked while this runs (a pump that frees another) wait for the next turn, as before.
  const batch = kicked;
  kicked = spare;
  for (let i = 0; i < batch.length; i++) (batch[i] as ResponsePump).runScheduled();
  batch.length = 0;
  spare = batch;
}

export abstract class ResponsePump {
  private scheduled = false;
  private blocked = false;
  private inFlight = false;
  private pumpClosed = false;
  /** The write completion, made once per stream rather than once per write. */
  private readonly written = (): void => {
    this.inFlight = false;
    // Next response right away if one is pending; the producer decides.
    if (!this.blocked) this.pump();
  };

  constructor(private readonly out: WritableCall) {
    // Responses come framed from the encoder; let this stream write them without grpc-js's copy.
    useFramedWrites(out);
  }

  /** The next response to write, or undefined when there is nothing to send now. */
  protected abstract produce(): Buffer | undefined;
  /** A throw from `produce`: the stream is failed with it. */
  protected abstract onPumpError(err: unknown): void;

  /** Asks for a pump on the next turn; many asks in one turn coalesce into one pump. */
  protected schedulePump(): void {
    if (this.scheduled || this.blocked || this.inFlight || this.pumpClosed) return;
    this.scheduled = true;
    kicked.push(this);
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

  /** No pump runs after this (a queued one returns at once). */
  protected closePump(): void {
    this.pumpClosed = true;
  }

  /** True while the transport has not taken the last response (client slow or stalled). */
  get isBlocked(): boolean {
    return this.blocked || this.inFlight;
  }

  private pump(): void {
    if (this.blocked || this.inFlight || this.pumpClosed) return;
    let buf: Buffer | undefined;
    try {
      buf = this.produce();
    } catch (e) {
      this.onPumpError(e);
      return;
    }
    if (!buf) return;
    this.inFlight = true;
    if (!this.out.write(buf, this.written)) {
      this.blocked = true;
      this.out.once("drain", () => {
        this.blocked = false;
        this.pump();
      });
    }
  }
}
