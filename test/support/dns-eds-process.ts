/**
 * Test helper: `dns-eds serve` as a child process — the binary a user runs, compiled by tsc from
 * src/cli/main.ts and src/app/serve.ts into a private folder (test/support/private-build.ts) — driven
 * only the way an operator drives it: a config file, signals, the admin HTTP endpoints and the xDS port.
 * Its JSON log (stdout) is read line by line so a test can wait for a line instead of sleeping.
 *
 *   const main = await buildDnsEds("e2e-");                   // once per file, in beforeAll
 *   const p = await spawnDnsEds({ main, config: file });      // waits for admin + xDS to listen
 *   await p.clusters(); await p.readyz(); await p.metric("dnseds_xds_streams");
 *   const mark = p.mark(); p.signal("SIGHUP"); await p.waitLog((l) => l.msg === "...", "reload", mark);
 *   expect(await p.stop()).toEqual({ code: 0, signal: null });
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { join } from "node:path";
import { buildPrivate } from "./private-build.js";

export type LogLine = Record<string, unknown> & { msg?: string; level?: number | string };

export interface ClusterEndpointView {
  address: string;
  port: number;
  health: string;
  priority: number;
  weight?: number;
  locality?: { region: string; zone: string; subZone: string };
  source?: string;
}

export interface ClusterPageView {
  name: string;
  version?: string;
  error?: string;
  endpoints: ClusterEndpointView[];
}

export interface ExitStatus {
  code: number | null;
  signal: NodeJS.Signals | null;
}

export interface DnsEdsProcess {
  readonly pid: number;
  readonly adminUrl: string;
  readonly xdsPort: number;
  /** "127.0.0.1:PORT" of the xDS server, for client bootstraps. */
  readonly xdsServer: string;
  /** Every log line so far (JSON lines of stdout; other stdout text as { msg: text, raw: true }). */
  readonly lines: readonly LogLine[];
  /** Index of the next log line: pass it to waitLog to see only what comes after now. */
  mark(): number;
  /** Waits for a log line matching `pred` at index `from` or later; bounded by `ms` (default 30 s). */
  waitLog(pred: (l: LogLine) => boolean, what: string, from?: number, ms?: number): Promise<LogLine>;
  signal(sig: NodeJS.Signals): void;
  /** Resolves when the process has exited. */
  readonly exited: Promise<ExitStatus>;
  running(): boolean;
  /** GET /clusters?format=json */
  clusters(): Promise<ClusterPageView[]>;
  /** Endpoints of one cluster (undefined when the cluster is not listed). */
  cluster(name: string): Promise<ClusterPageView | undefined>;
  /** GET /readyz: status and parsed body. */
  readyz(): Promise<{
    status: number;
    body: { ready?: boolean; checks?: Array<{ name: string; ok: boolean; reason?: string }> };
  }>;
  /** Sum of a Prometheus metric's samples whose label text contains `labelFilter` (0 when absent). */
  metric(name: string, labelFilter?: string): Promise<number>;
  /** SIGTERM and wait for the exit (SIGKILL after `ms`, default 20 s). */
  stop(ms?: number): Promise<ExitStatus>;
  /** SIGKILL and wait for the exit. */
  kill(): Promise<ExitStatus>;
  /** stdout and stderr so far, for failure messages. */
  output(): string;
}

export interface SpawnOptions {
  /** Path of the built cli/main.js (from buildDnsEds). */
  main: string;
  /** The config file (`--config`). */
  config: string;
  /** Default "debug": streams log "xds stream identified", which tests use to count (re)connections. */
  logLevel?: string;
  cwd?: string;
  /** How long to wait for the admin and xDS listeners (default 30 s). */
  startMs?: number;
}

/** Compiles the binary into a private folder under .tmp/; returns the path of its cli/main.js. */
export async function buildDnsEds(prefix: string): Promise<string> {
  const dir = await buildPrivate(prefix, ["cli/main.ts", "app/serve.ts"]);
  return join(dir, "cli", "main.js");
}

const running = new Set<ChildProcessWithoutNullStreams>();
// A test worker that dies without its afterAll must not leave a control plane running.
process.once("exit", () => {
  for (const p of running) p.kill("SIGKILL");
});

export async function spawnDnsEds(opts: SpawnOptions): Promise<DnsEdsProcess> {
  const proc = spawn(
    process.execPath,
    [opts.main, "serve", "--config", opts.config, "--log-level", opts.logLevel ?? "debug"],
    { cwd: opts.cwd ?? process.cwd(), stdio: ["pipe", "pipe", "pipe"] },
  );
  running.add(proc);
  const lines: LogLine[] = [];
  let out = "";
  let buffer = "";
  const wake = new Set<() => void>();
  const notify = () => {
    for (const w of [...wake]) w();
  };
  proc.stdout.on("data", (chunk: Buffer) => {
    const text = chunk.toString();
    if (out.length < 2_000_000) out += text;
    buffer += text;
    for (let nl = buffer.indexOf("\n"); nl >= 0; nl = buffer.indexOf("\n")) {
      const line = buffer.slice(0, nl);
      buffer = buffer.slice(nl + 1);
      if (line.trim() === "") continue;
      try {
        lines.push(JSON.parse(line) as LogLine);
      } catch {
        lines.push({ msg: line, raw: true });
      }
    }
    notify();
  });
  proc.stderr.on("data", (chunk: Buffer) => {
    if (out.length < 2_000_000) out += chunk.toString();
  });
  let status: ExitStatus | undefined;
  const exited = new Promise<ExitStatus>((resolve) =>
    proc.once("exit", (code, signal) => {
      running.delete(proc);
      status = { code, signal };
      notify();
      resolve(status);
    }),
  );

  const waitLog = async (pred: (l: LogLine) => boolean, what: string, from = 0, ms = 30_000) => {
    const deadline = Date.now() + ms;
    let at = from;
    for (;;) {
      for (; at < lines.length; at++) {
        const l = lines[at] as LogLine;
        if (pred(l)) return l;
      }
      const left = deadline - Date.now();
      if (left <= 0 || status)
        throw new Error(
          `dns-eds: no log line ${what} (${status ? `exited ${JSON.stringify(status)}` : `${ms} ms`})\n${out.slice(-6000)}`,
        );
      await new Promise<void>((resolve) => {
        const done = () => {
          clearTimeout(t);
          wake.delete(done);
          resolve();
        };
        const t = setTimeout(done, Math.min(left, 1000));
        wake.add(done);
      });
    }
  };

  const startMs = opts.startMs ?? 30_000;
  const adminLine = await waitLog((l) => l.msg === "admin listening", "admin listening", 0, startMs);
  const xdsLine = await waitLog((l) => l.msg === "xDS listening", "xDS listening", 0, startMs);
  const adminUrl = String(adminLine.url);
  const xdsPort = Number(xdsLine.port);

  const getJson = async (path: string) => (await fetch(`${adminUrl}${path}`)).json();
  const p: DnsEdsProcess = {
    pid: proc.pid ?? -1,
    adminUrl,
    xdsPort,
    xdsServer: `127.0.0.1:${xdsPort}`,
    lines,
    mark: () => lines.length,
    waitLog,
    signal: (sig) => {
      proc.kill(sig);
    },
    exited,
    running: () => status === undefined,
    clusters: async () =>
      ((await getJson("/clusters?format=json")) as { clusters: ClusterPageView[] }).clusters,
    cluster: async (name) => (await p.clusters()).find((c) => c.name === name),
    readyz: async () => {
      const res = await fetch(`${adminUrl}/readyz`);
      return { status: res.status, body: (await res.json()) as never };
    },
    metric: async (name, labelFilter = "") => {
      const text = await (await fetch(`${adminUrl}/metrics`)).text();
      let sum = 0;
      for (const m of text.matchAll(new RegExp(`^${name}(\\{[^}]*\\})? (\\S+)$`, "gm"))) {
        if ((m[1] ?? "").includes(labelFilter)) sum += Number(m[2]);
      }
      return sum;
    },
    stop: async (ms = 20_000) => {
      if (status) return status;
      proc.kill("SIGTERM");
      const t = setTimeout(() => proc.kill("SIGKILL"), ms);
      const s = await exited;
      clearTimeout(t);
      return s;
    },
    kill: async () => {
      if (status) return status;
      proc.kill("SIGKILL");
      return exited;
    },
    output: () => out,
  };
  return p;
}

/** Node ids of the xDS streams the process logged as identified from `from` on ("xds stream identified"). */
export function identifiedStreams(p: DnsEdsProcess, from = 0): string[] {
  return p.lines
    .slice(from)
    .filter((l) => l.msg === "xds stream identified")
    .map((l) => String(l.node));
}
