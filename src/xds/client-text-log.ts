/**
 * Log lines about what clients send (a NACK's error_detail, an unsupported type URL): the client's text
 * is cut to a bounded length, and each kind of line goes out at most a few times per interval across
 * the whole server, so no client can flood the log (a NACK may carry 4 MiB, and a client may send
 * thousands a second). Lines held back are counted, and the next line of that kind says how many.
 */
import type { Logger } from "pino";
import { TokenBucket } from "./token-bucket.js";

export interface ClientTextLogOptions {
  /** Longest client text kept in a line, in characters (default 512). */
  maxChars?: number;
  /** Lines of one kind per interval (default 20 per 10 s). */
  linesPerInterval?: number;
  intervalMs?: number;
  now?: () => number;
  /** Called for each line held back, e.g. to count it. */
  onSuppressed?: (kind: string) => void;
}

/** Cuts `text` to `max` characters, saying how long it was. */
export function clipClientText(text: string, max: number): string {
  if (text.length <= max) return text;
  return `${text.slice(0, max)}… (${text.length} characters)`;
}

export class ClientTextLog {
  readonly maxChars: number;
  private readonly lines: number;
  private readonly intervalMs: number;
  private readonly now: () => number;
  private readonly kinds = new Map<string, { bucket: TokenBucket; held: number }>();

  constructor(
    private readonly logger: Logger,
    private readonly opts: ClientTextLogOptions = {},
  ) {
    this.maxChars = opts.maxChars ?? 512;
    this.lines = opts.linesPerInterval ?? 20;
    this.intervalMs = opts.intervalMs ?? 10_000;
    this.now = opts.now ?? Date.now;
  }

  /** Logs at warn level unless this kind is over its rate; string fields are clipped. */
  warn(kind: string, fields: Record<string, unknown>, msg: string): void {
    let k = this.kinds.get(kind);
    if (!k) {
      k = { bucket: new TokenBucket(this.lines, this.now()), held: 0 };
      this.kinds.set(kind, k);
    }
    if (!k.bucket.take(this.now(), (this.lines * 1000) / this.intervalMs, this.lines)) {
      k.held++;
      this.opts.onSuppressed?.(kind);
      return;
    }
    const out: Record<string, unknown> = {};
    for (const [key, v] of Object.entries(fields)) {
      out[key] = typeof v === "string" ? clipClientText(v, this.maxChars) : v;
    }
    if (k.held > 0) {
      out.suppressedSinceLast = k.held;
      k.held = 0;
    }
    this.logger.warn(out, msg);
  }
}
