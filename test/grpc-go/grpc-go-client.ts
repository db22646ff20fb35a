/**
 * Test helper: runs the grpc-go proxyless client (test/peers/grpc-go-client, built by
 * scripts/prereqs/grpc-go.mjs into .tmp/tools/) as a child process with its own bootstrap, and reads the
 * JSON line it prints per call, so a test sees where grpc-go's calls land and how many failed.
 *
 * Each client is one process because grpc-go reads its xDS bootstrap once per process: a second node
 * (another zone) is a second client. The child stops when we close its stdin, on SIGTERM, or after
 * `maxRunMs`; stop() does the first and kills it by PID if it lingers.
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";

export const GRPC_GO_CLIENT_BIN = join(
  dirname(fileURLToPath(import.meta.url)),
  "..",
  "..",
  ".tmp",
  "tools",
  "grpc-go-client",
  "grpc-go-client",
);

/** One call as the client reported it: the backend that answered, or the gRPC status code. */
export interface GoCall {
  seq: number;
  /** The target called (the client calls its targets in turn). */
  target: string;
  /** Milliseconds since the client started. */
  ms: number;
  backend?: string;
  code?: string;
  error?: string;
}

export interface GrpcGoClientOptions {
  /** `xds:///NAME`, or several: one process (one xDS client and ADS stream) calls them in turn. */
  target: string | string[];
  /** dns-eds's xDS address, `host:port`. */
  xdsServer: string;
  nodeId: string;
  /** The node's locality zone (region "r1"): picks the zone variant of zone-aware assignments. */
  zone?: string;
  /** Pause between the starts of two calls (default 50 ms, i.e. at most 20 calls a second). */
  intervalMs?: number;
  /** Deadline of one call (default 5 s: generous, so a loaded box slows calls instead of failing them). */
  timeoutMs?: number;
  /** Hard bound on the child's life (default 5 min). */
  maxRunMs?: number;
}

export interface WaitOptions {
  /** Give up after this long (default 30 s). */
  ms?: number;
  /** Count only calls to this target (default: every call). */
  target?: string;
}

export interface GrpcGoClient {
  /** Every call so far, in order. */
  readonly calls: readonly GoCall[];
  /** grpc-go and Go versions the client reported at start. */
  readonly versions: { grpc: string; go: string } | undefined;
  /**
   * Waits until the last `window` calls made after this wait began satisfy `check`; bounded by `ms`.
   * Calls from before the wait never count, so a condition about "now" is not met by old traffic.
   */
  until(
    what: string,
    window: number,
    check: (recent: GoCall[]) => boolean,
    opts?: WaitOptions,
  ): Promise<GoCall[]>;
  /** The next `n` calls from now (bounded by `ms`). */
  next(n: number, opts?: WaitOptions): Promise<GoCall[]>;
  /** Calls after the first answered one that failed (the start-up wait for xDS is not a failure). */
  failuresSinceFirstAnswer(): GoCall[];
  /** The child's stderr so far (grpc-go logs), for failure messages. */
  log(): string;
  stop(): Promise<void>;
}

/** Distinct backends in `calls`, sorted. */
export const backendsOf = (calls: readonly GoCall[]): string[] =>
  [...new Set(calls.flatMap((c) => (c.backend ? [c.backend] : [])))].sort();

/** Answered calls per backend plus failures, e.g. `{"127.0.0.41": 7, "127.0.0.42": 8, failed: 0}`. */
export function tally(calls: readonly GoCall[]): Record<string, number> {
  const t: Record<string, number> = {};
  for (const c of calls) {
    const k = c.backend ?? "failed";
    t[k] = (t[k] ?? 0) + 1;
  }
  t.failed ??= 0;
  return t;
}

export function bootstrap(xdsServer: string, nodeId: string, zone?: string): string {
  return JSON.stringify({
    xds_servers: [
      { server_uri: xdsServer, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] },
    ],
    node: { id: nodeId, locality: { region: "r1", ...(zone ? { zone } : {}) } },
  });
}

export function startGrpcGoClient(opts: GrpcGoClientOptions): GrpcGoClient {
  if (!existsSync(GRPC_GO_CLIENT_BIN)) {
    throw new Error(
      `${GRPC_GO_CLIENT_BIN} is missing: run \`node scripts/test-prereqs.mjs\` (npm test does) to build it`,
    );
  }
  const calls: GoCall[] = [];
  let versions: { grpc: string; go: string } | undefined;
  let stderr = "";
  let exited = false;
  const child: ChildProcess = spawn(
    GRPC_GO_CLIENT_BIN,
    [
      ...(Array.isArray(opts.target) ? opts.target : [opts.target]).flatMap((t) => ["-target", t]),
      "-interval",
      `${opts.intervalMs ?? 50}ms`,
      "-timeout",
      `${opts.timeoutMs ?? 5000}ms`,
      "-max-run",
      `${opts.maxRunMs ?? 300_000}ms`,
    ],
    {
      env: {
        ...process.env,
        GRPC_XDS_BOOTSTRAP: "",
        GRPC_XDS_BOOTSTRAP_CONFIG: bootstrap(opts.xdsServer, opts.nodeId, opts.zone),
        // NACKs and resource errors show up in the log a failing test prints.
        GRPC_GO_LOG_SEVERITY_LEVEL: "warning",
        GRPC_GO_LOG_VERBOSITY_LEVEL: "0",
      },
      stdio: ["pipe", "pipe", "pipe"],
    },
  );
  // A test worker that dies without afterAll must not leave the client running.
  const killOnExit = () => child.kill("SIGKILL");
  process.once("exit", killOnExit);
  const exit = new Promise<void>((resolve) =>
    child.once("exit", () => {
      exited = true;
      process.removeListener("exit", killOnExit);
      resolve();
    }),
  );
  child.stderr?.on("data", (d: Buffer) => {
    if (stderr.length < 200_000) stderr += d.toString();
  });
  if (child.stdout) {
    createInterface({ input: child.stdout }).on("line", (text) => {
      let l: GoCall & { event?: string; grpc?: string; go?: string };
      try {
        l = JSON.parse(text);
      } catch {
        stderr += `unparsable stdout line: ${text}\n`;
        return;
      }
      if (l.event === "start") versions = { grpc: l.grpc ?? "?", go: l.go ?? "?" };
      else if (l.event === "call")
        calls.push({
          seq: l.seq,
          target: l.target,
          ms: l.ms,
          ...(l.backend !== undefined ? { backend: l.backend } : {}),
          ...(l.code !== undefined ? { code: l.code, error: l.error ?? "" } : {}),
        });
    });
  }

  const describe = (recent: GoCall[]) =>
    `last calls ${JSON.stringify(tally(recent))}; ${calls.length} calls in all${exited ? ", client exited" : ""}` +
    `\n--- grpc-go log (tail) ---\n${stderr.slice(-3000)}`;

  const waitCalls = async (
    what: string,
    wait: WaitOptions,
    done: (fresh: GoCall[]) => GoCall[] | undefined,
  ): Promise<GoCall[]> => {
    const from = calls.length;
    const deadline = Date.now() + (wait.ms ?? 30_000);
    const fresh = () =>
      calls.slice(from).filter((c) => wait.target === undefined || c.target === wait.target);
    for (let i = 0; i < 100_000 && Date.now() < deadline && !exited; i++) {
      const got = done(fresh());
      if (got) return got;
      await new Promise((r) => setTimeout(r, 25));
    }
    const got = done(fresh());
    if (got) return got;
    throw new Error(
      `grpc-go client (${opts.nodeId}): timed out waiting for ${what}${wait.target ? ` on ${wait.target}` : ""}: ${describe(calls.slice(-20))}`,
    );
  };

  return {
    calls,
    get versions() {
      return versions;
    },
    until: (what, window, check, wait = {}) =>
      waitCalls(what, wait, (fresh) => {
        if (fresh.length < window) return undefined;
        const recent = fresh.slice(-window);
        return check(recent) ? recent : undefined;
      }),
    next: (n, wait = {}) =>
      waitCalls(`${n} more calls`, wait, (fresh) => (fresh.length >= n ? fresh.slice(0, n) : undefined)),
    failuresSinceFirstAnswer() {
      const first = calls.findIndex((c) => c.backend !== undefined);
      return first < 0 ? [] : calls.slice(first).filter((c) => c.backend === undefined);
    },
    log: () => stderr,
    async stop() {
      if (exited) return;
      child.stdin?.end();
      const t = setTimeout(() => child.kill("SIGKILL"), 3000);
      await exit;
      clearTimeout(t);
    },
  };
}
