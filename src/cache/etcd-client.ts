/**
 * Builds the `etcd3` client the cache tiers share, with fault handling suited to a cache: every unary
 * call has a deadline, calls fail over across members quickly, and there is no client-side circuit
 * breaker (the default one refuses calls for 5 s after three failures, which would delay recovery);
 * the mirror's own backoff decides when to try again.
 */
import { DelegateBackoff, handleWhen, noop, retry } from "cockatiel";
import { Etcd3, type IOptions, isRecoverableError } from "etcd3";
import { backoffDelay } from "../dns/backoff.js";

export interface EtcdClientOptions {
  endpoints: string[];
  /** Deadline of each unary call, ms (default 2000). */
  opTimeoutMs?: number;
  /** Attempts of one call across members on recoverable errors (default members + 2). */
  attempts?: number;
  credentials?: IOptions["credentials"];
  auth?: IOptions["auth"];
}

/** Delays between tries of one call: 50 ms doubling to 400 ms (a leader election takes about that). */
const CALL_RETRY = { baseMs: 50, maxMs: 400 };

/** Retries recoverable errors (member down, leader changed) a bounded number of times. */
function retrying(attempts: number) {
  return retry(
    handleWhen((err) => isRecoverableError(err)),
    {
      maxAttempts: Math.max(0, attempts - 1),
      // cockatiel counts retries from 1.
      backoff: new DelegateBackoff((ctx: { attempt: number }) => backoffDelay(ctx.attempt - 1, CALL_RETRY)),
    },
  );
}

export function createEtcdClient(opts: EtcdClientOptions): Etcd3 {
  const timeout = opts.opTimeoutMs ?? 2000;
  return new Etcd3({
    hosts: opts.endpoints,
    credentials: opts.credentials,
    auth: opts.auth,
    dialTimeout: timeout,
    defaultCallOptions: (ctx) => (ctx.isStream ? {} : { deadline: Date.now() + timeout }),
    grpcOptions: {
      // Generous: on a loaded 2-core box a short keepalive timeout drops healthy connections.
      "grpc.keepalive_time_ms": 10_000,
      "grpc.keepalive_timeout_ms": 5_000,
      "grpc.keepalive_permit_without_calls": 1,
      "grpc.initial_reconnect_backoff_ms": 100,
      "grpc.max_reconnect_backoff_ms": 1000,
    },
    faultHandling: {
      host: () => noop,
      global: retrying(opts.attempts ?? opts.endpoints.length + 2),
    },
  });
}
