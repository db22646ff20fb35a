/**
 * Builds the `etcd3` client the cache tiers share, with fault handling suited to a cache: every unary
 * call has a deadline, calls fail over across members quickly, and there is no client-side circuit
 * breaker (the default one refuses calls for 5 s after three failures, which would delay recovery);
 * the mirror's own backoff decides when to try again.
 */
import { Etcd3, type IOptions, isRecoverableError } from "etcd3";

export interface EtcdClientOptions {
  endpoints: string[];
  /** Deadline of each unary call, ms (default 2000). */
  opTimeoutMs?: number;
  /** Attempts of one call across members on recoverable errors (default members + 2). */
  attempts?: number;
  credentials?: IOptions["credentials"];
  auth?: IOptions["auth"];
}

type Policy = NonNullable<NonNullable<IOptions["faultHandling"]>["global"]>;

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Pass-through policy: the etcd3 client only calls `execute`. */
function passThrough(): Policy {
  return {
    execute: (fn: (ctx: unknown) => unknown) => Promise.resolve().then(() => fn({})),
  } as unknown as Policy;
}

/** Retries recoverable errors (member down, leader changed) a bounded number of times. */
function retrying(attempts: number): Policy {
  return {
    execute: async (fn: (ctx: unknown) => Promise<unknown>) => {
      let last: unknown;
      for (let i = 0; i < attempts; i++) {
        try {
          return await fn({});
        } catch (err) {
          last = err;
          if (!(err instanceof Error) || !isRecoverableError(err)) throw err;
          await sleep(Math.min(50 * 2 ** i, 400));
        }
      }
      throw last;
    },
  } as unknown as Policy;
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
      host: () => passThrough(),
      global: retrying(opts.attempts ?? opts.endpoints.length + 2),
    },
  });
}
