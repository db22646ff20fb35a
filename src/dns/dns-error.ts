/**
 * The one error type the DNS stage rejects with. Every failure carries a stable `code` so callers (the
 * cache's serve-stale logic, the CLI, metrics) branch on codes, never on message text.
 */

export type DnsErrorCode =
  /** No valid reply within the per-try timeout (after all attempts when it reaches the caller). */
  | "ERR_DNS_TIMEOUT"
  /** The server answered SERVFAIL. */
  | "ERR_DNS_SERVFAIL"
  /** The server answered REFUSED. */
  | "ERR_DNS_REFUSED"
  /** The server answered NOTIMP, FORMERR or another rcode that is not an answer. */
  | "ERR_DNS_BAD_RCODE"
  /** Every configured server failed for this lookup; `cause` holds the last server's error. */
  | "ERR_DNS_ALL_SERVERS_FAILED"
  /** A name failed validation (label > 63, name > 253, empty label, bad character). */
  | "ERR_DNS_BAD_NAME"
  /** The caller's AbortSignal fired. */
  | "ERR_DNS_ABORTED"
  /** A CNAME chain revisited a name. */
  | "ERR_DNS_CNAME_LOOP"
  /** A CNAME chain was longer than the link limit (12 by default). */
  | "ERR_DNS_CNAME_TOO_LONG"
  /** Replies arrived but none passed validation (garbage, wrong question, ...). */
  | "ERR_DNS_BAD_REPLY"
  /** Socket-level failure: ECONNREFUSED (ICMP port unreachable), reset, send error. */
  | "ERR_DNS_NETWORK"
  /** A TCP reply was larger than allowed or its framing was wrong. */
  | "ERR_DNS_TCP_FRAMING"
  /** Too many queries waiting for a server's in-flight slots. */
  | "ERR_DNS_OVERLOADED"
  /** The resolver was closed. */
  | "ERR_DNS_CLOSED"
  /** Bad resolver configuration (server address, resolv.conf, option values). */
  | "ERR_DNS_BAD_CONFIG"
  /** The record type is not one this resolver looks up. */
  | "ERR_DNS_BAD_TYPE";

export class DnsError extends Error {
  readonly code: DnsErrorCode;
  /** `host:port` of the server involved, when one was. */
  readonly server: string | undefined;

  constructor(code: DnsErrorCode, message: string, opts: { server?: string; cause?: unknown } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = "DnsError";
    this.code = code;
    this.server = opts.server;
  }
}

export function isDnsError(e: unknown): e is DnsError {
  return e instanceof DnsError;
}
