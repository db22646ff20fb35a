/**
 * What `dns-eds serve` does with errors nothing caught.
 *
 * - An unhandled promise rejection is logged (rate-limited), counted in
 *   `dnseds_process_errors_total{kind="unhandled_rejection"}` and the process keeps serving. Such a
 *   rejection is one operation whose failure nobody awaited (a fire-and-forget write, a timer's
 *   callback); nothing was unwound half-way, so the rest of the state is intact, and Node's default
 *   (exit) would turn one missed `.catch` into an outage of the control plane for the whole fleet.
 *   Alert on the counter: every one is a bug to fix.
 * - An uncaught exception is logged at fatal, counted, and the process exits with 1 after the log is
 *   written: the stack unwound at an unknown point, so state may be half-updated and serving it could
 *   publish wrong endpoints. The orchestrator restarts the replica; with etcd, the others take over
 *   its names when its session lease expires.
 */
import type { Logger } from "pino";

export type ProcessErrorKind = "unhandled_rejection" | "uncaught_exception";

export interface ProcessErrorPolicyOptions {
  logger: Logger;
  /** Counts each error (the metric). */
  count?: (kind: ProcessErrorKind) => void;
  /** The process to watch (injectable for tests). */
  proc?: Pick<NodeJS.Process, "on" | "off">;
  /** How to end the process after an uncaught exception (default process.exit). */
  exit?: (code: number) => void;
  /** Rejection log lines per minute at most (default 10); the rest are counted and summed up. */
  logsPerMinute?: number;
  now?: () => number;
}

/** Installs the handlers; returns a function that removes them. */
export function installProcessErrorPolicy(opts: ProcessErrorPolicyOptions): () => void {
  const proc = opts.proc ?? process;
  const exit = opts.exit ?? ((code: number) => process.exit(code));
  const now = opts.now ?? Date.now;
  const perMinute = opts.logsPerMinute ?? 10;
  let windowStart = now();
  let logged = 0;
  let suppressed = 0;

  const onRejection = (reason: unknown) => {
    opts.count?.("unhandled_rejection");
    const t = now();
    if (t - windowStart >= 60_000) {
      windowStart = t;
      logged = 0;
    }
    if (logged >= perMinute) {
      suppressed++;
      return;
    }
    logged++;
    const extra = suppressed > 0 ? { suppressed } : {};
    suppressed = 0;
    opts.logger.error(
      { err: reason, kind: "unhandled_rejection", ...extra },
      "unhandled promise rejection: a bug; serving continues",
    );
  };
  const onException = (err: unknown) => {
    opts.count?.("uncaught_exception");
    opts.logger.fatal(
      { err, kind: "uncaught_exception" },
      "uncaught exception: exiting (state may be inconsistent)",
    );
    // pino writes synchronously to stdout unless a transport is used; flush what a transport holds.
    const flush = (opts.logger as { flush?: (cb?: () => void) => void }).flush;
    let done = false;
    const finish = () => {
      if (done) return;
      done = true;
      exit(1);
    };
    if (typeof flush === "function") {
      try {
        flush.call(opts.logger, finish);
      } catch {
        finish();
      }
      setTimeout(finish, 1000).unref();
    } else finish();
  };
  proc.on("unhandledRejection", onRejection);
  proc.on("uncaughtException", onException);
  return () => {
    proc.off("unhandledRejection", onRejection);
    proc.off("uncaughtException", onException);
  };
}
