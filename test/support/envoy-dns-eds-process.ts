/**
 * Test helper (Envoy scenarios): `dns-eds serve --config FILE` as a child process (the built dist/cli/main.js, which
 * `npm run build` makes before the tests), so a test can SIGKILL the control plane the way a crash or an
 * OOM kill would, and start it again on the same ports.
 *
 *   const p = await startDnsEdsProcess({ dns: {...}, clusters: [...] });   // xDS and admin ports picked once
 *   p.xdsPort; p.adminUrl; await p.metric("dnseds_xds_streams");
 *   await p.kill();   // SIGKILL, no goodbye to streams
 *   await p.start();  // same config, same ports; resolves when /readyz is 200
 *   await p.stop();   // SIGTERM (SIGKILL after 5 s); always in afterAll
 *   p.log()           // its stdout/stderr so far (JSON log lines), for a failed test
 */
import { type ChildProcess, spawn } from "node:child_process";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { freePort } from "./etcd-server.js";
import { repoRoot } from "./private-build.js";

export interface DnsEdsProcess {
  readonly xdsPort: number;
  readonly adminUrl: string;
  readonly pid: number | undefined;
  running(): boolean;
  start(): Promise<void>;
  kill(): Promise<void>;
  stop(): Promise<void>;
  log(): string;
  /** Sum of a Prometheus metric's samples whose label text contains `labelFilter` (0 when absent). */
  metric(name: string, labelFilter?: string): Promise<number>;
  adminJson(path: string): Promise<unknown>;
}

export async function startDnsEdsProcess(
  config: Record<string, unknown>,
  opts: { logLevel?: string; readyTimeoutMs?: number } = {},
): Promise<DnsEdsProcess> {
  const cli = join(repoRoot, "dist", "cli", "main.js");
  if (!existsSync(cli)) throw new Error(`${cli} is missing: run npm run build first`);
  const xdsPort = await freePort();
  const adminPort = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "dnseds-proc-"));
  const file = join(dir, "dns-eds.yaml");
  const xds = (config.xds ?? {}) as Record<string, unknown>;
  writeFileSync(
    file,
    stringify({
      ...config,
      xds: {
        ...xds,
        listen: `127.0.0.1:${xdsPort}`,
        limits: { debounceMs: 20, ...((xds.limits as object) ?? {}) },
      },
      admin: { listen: `127.0.0.1:${adminPort}` },
    }),
  );
  const adminUrl = `http://127.0.0.1:${adminPort}`;
  let child: ChildProcess | undefined;
  let exited: Promise<void> = Promise.resolve();
  let output = "";
  const killOnExit = () => child?.kill("SIGKILL");
  process.on("exit", killOnExit);

  const running = () => child !== undefined && child.exitCode === null && child.signalCode === null;

  const signal = async (sig: NodeJS.Signals) => {
    if (!child || !running()) return;
    child.kill(sig);
    const t = setTimeout(() => child?.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(t);
  };

  const p: DnsEdsProcess = {
    xdsPort,
    adminUrl,
    get pid() {
      return child?.pid;
    },
    running,
    async start() {
      if (running()) return;
      const c = spawn(
        process.execPath,
        [cli, "serve", "--config", file, "--log-level", opts.logLevel ?? "info"],
        { stdio: ["ignore", "pipe", "pipe"], cwd: repoRoot },
      );
      child = c;
      exited = new Promise((r) => c.once("exit", () => r()));
      const keep = (d: Buffer) => {
        output = (output + d.toString()).slice(-200_000);
      };
      c.stdout?.on("data", keep);
      c.stderr?.on("data", keep);
      const deadline = Date.now() + (opts.readyTimeoutMs ?? 30_000);
      while (Date.now() < deadline) {
        if (!running()) throw new Error(`dns-eds exited during start:\n${output.slice(-4000)}`);
        try {
          const r = await fetch(`${adminUrl}/readyz`, { signal: AbortSignal.timeout(1_000) });
          if (r.status === 200) return;
        } catch {
          // not listening yet
        }
        await new Promise((r) => setTimeout(r, 100));
      }
      throw new Error(
        `dns-eds not ready within ${opts.readyTimeoutMs ?? 30_000} ms:\n${output.slice(-4000)}`,
      );
    },
    kill: () => signal("SIGKILL"),
    async stop() {
      await signal("SIGTERM");
      process.removeListener("exit", killOnExit);
      rmSync(dir, { recursive: true, force: true });
    },
    log: () => output,
    async metric(name, labelFilter = "") {
      const res = await fetch(`${adminUrl}/metrics`, { signal: AbortSignal.timeout(5_000) });
      let sum = 0;
      for (const line of (await res.text()).split("\n")) {
        const m = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
        if (m?.[1] !== name || !(m[2] ?? "").includes(labelFilter)) continue;
        sum += Number(m[3]);
      }
      return sum;
    },
    async adminJson(path) {
      const res = await fetch(`${adminUrl}${path}`, { signal: AbortSignal.timeout(5_000) });
      return res.json();
    },
  };
  await p.start();
  return p;
}
