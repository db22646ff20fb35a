/**
 * Errors raised by the cache tiers. Each carries a stable `code` so callers (admin, CLI, tests) can
 * branch on it without parsing messages.
 */

export type CacheErrorCode =
  | "ERR_CACHE_CLOSED"
  | "ERR_CACHE_NOT_STARTED"
  | "ERR_CACHE_DECODE"
  | "ERR_CACHE_ETCD_UNAVAILABLE"
  | "ERR_CACHE_BAD_NAME"
  /** Same code as the DNS stage's abort, so callers handle both alike. */
  | "ERR_DNS_ABORTED";

export class CacheError extends Error {
  readonly code: CacheErrorCode;
  constructor(code: CacheErrorCode, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.name = "CacheError";
    this.code = code;
  }
}
