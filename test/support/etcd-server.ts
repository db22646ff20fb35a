/**
 * Test helper: runs a real etcd (Debian `etcd-server`, v3.4) on loopback — one member or a 3-member
 * cluster — on free ports with private temp data dirs, so cache/health tests exercise the real thing.
 *
 * Usage:
 *   const etcd = await startEtcd();                 // single member
 *   etcd.endpoints                                  // ["http://127.0.0.1:PORT"], for the etcd3 client
 *   await etcd.members[0].stop(); await etcd.members[0].start();   // outage and recovery, same data
 *   const cluster = await startEtcd({ members: 3 });
 *   const leader = await cluster.leader(); await leader.kill();    // SIGKILL the leader
 *   await etcd.close();                             // always in afterAll: kills members, removes dirs
 *
 * Ports come from binding port 0 on 127.0.0.1 and closing it; if another process grabs one in between,
 * the start fails and the whole set is started again on fresh ports and fresh data dirs (3 attempts).
 */
import { type ChildProcess, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";

export interface EtcdMember {
  readonly name: string;
  readonly clientUrl: string;
  readonly peerUrl: string;
  readonly dataDir: string;
  /** True while the process runs. */
  running(): boolean;
  /** Starts (or restarts, keeping the data dir) and waits until it answers /health (quorum permitting). */
  start(): Promise<void>;
  /** SIGTERM and wait for exit. */
  stop(): Promise<void>;
  /** SIGKILL and wait for exit. */
  kill(): Promise<void>;
  /** SIGSTOP / SIGCONT: a hung member (no RST, just silence). */
  pause(): void;
  resume(): void;
  /** Raw member id (hex) from the maintenance status endpoint; undefined if unreachable. */
  status(): Promise<{ memberId: string; leader: string; revision: number } | undefined>;
}

export interface EtcdServer {
  readonly members: EtcdMember[];
  /** Client URLs of every member. */
  readonly endpoints: string[];
  /** The current leader, waiting up to `timeoutMs` for one to be elected. */
  leader(timeoutMs?: number): Promise<EtcdMember>;
  /** Waits until a majority of members answers healthy. */
  waitHealthy(timeoutMs?: number): Promise<void>;
  close(): Promise<void>;
}

export interface StartEtcdOptions {
  /** 1 (default) or 3. */
  members?: number;
  /** Raft heartbeat ms (default 50) and election timeout ms (default 500): fast failover in tests. */
  heartbeatMs?: number;
  electionTimeoutMs?: number;
  /** Path to the etcd binary (default `etcd`, or $ETCD_BIN). */
  bin?: string;
  /** Echo etcd's stderr (default false). */
  verbose?: boolean;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const addr = s.address();
      const port = typeof addr === "object" && addr ? addr.port : 0;
      s.close(() => resolve(port));
    });
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function httpJson(url: string, body?: unknown, timeoutMs = 1000): Promise<unknown> {
  const res = await fetch(url, {
    method: body === undefined ? "GET" : "POST",
    body: body === undefined ? undefined : JSON.stringify(body),
    signal: AbortSignal.timeout(timeoutMs),
  });
  return res.json();
}

class Member implements EtcdMember {
  proc: ChildProcess | undefined;
  private exited: Promise<void> = Promise.resolve();
  stderrTail = "";

  constructor(
    readonly name: string,
    readonly clientUrl: string,
    readonly peerUrl: string,
    readonly dataDir: string,
    private readonly args: () => string[],
    private readonly bin: string,
    private readonly verbose: boolean,
    private readonly waitReady: boolean,
  ) {}

  running(): boolean {
    return this.proc !== undefined && this.proc.exitCode === null && this.proc.signalCode === null;
  }

  spawnProcess(): void {
    const proc = spawn(this.bin, this.args(), { stdio: ["ignore", "ignore", "pipe"] });
    this.proc = proc;
    this.exited = new Promise((resolve) => proc.once("exit", () => resolve()));
    proc.stderr?.on("data", (d: Buffer) => {
      this.stderrTail = (this.stderrTail + d.toString()).slice(-4000);
      if (this.verbose) process.stderr.write(`[${this.name}] ${d}`);
    });
  }

  async start(): Promise<void> {
    if (this.running()) return;
    this.spawnProcess();
    if (this.waitReady) await this.waitUp(20_000);
  }

  async waitUp(timeoutMs: number): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (Date.now() < deadline) {
      if (!this.running()) throw new Error(`etcd ${this.name} exited: ${this.stderrTail.slice(-800)}`);
      try {
        const h = (await httpJson(`${this.clientUrl}/health`, undefined, 500)) as { health?: string };
        if (h.health === "true") return;
      } catch {
        // not listening yet
      }
      await sleep(50);
    }
    throw new Error(`etcd ${this.name} not healthy within ${timeoutMs} ms: ${this.stderrTail.slice(-800)}`);
  }

  private async signalAndWait(sig: NodeJS.Signals): Promise<void> {
    if (!this.proc || !this.running()) return;
    if (this.proc.signalCode === null) this.proc.kill("SIGCONT");
    this.proc.kill(sig);
    const t = setTimeout(() => this.proc?.kill("SIGKILL"), 5000);
    await this.exited;
    clearTimeout(t);
  }

  stop(): Promise<void> {
    return this.signalAndWait("SIGTERM");
  }

  kill(): Promise<void> {
    return this.signalAndWait("SIGKILL");
  }

  pause(): void {
    this.proc?.kill("SIGSTOP");
  }

  resume(): void {
    this.proc?.kill("SIGCONT");
  }

  async status(): Promise<{ memberId: string; leader: string; revision: number } | undefined> {
    try {
      const s = (await httpJson(`${this.clientUrl}/v3/maintenance/status`, {}, 1000)) as {
        header?: { member_id?: string; revision?: string };
        leader?: string;
      };
      if (!s.header?.member_id || !s.leader) return undefined;
      return { memberId: s.header.member_id, leader: s.leader, revision: Number(s.header.revision ?? 0) };
    } catch {
      return undefined;
    }
  }
}

export async function startEtcd(opts: StartEtcdOptions = {}): Promise<EtcdServer> {
  let last: unknown;
  for (let attempt = 0; attempt < 3; attempt++) {
    try {
      return await startOnce(opts);
    } catch (err) {
      last = err;
    }
  }
  throw last;
}

async function startOnce(opts: StartEtcdOptions): Promise<EtcdServer> {
  const n = opts.members ?? 1;
  const bin = opts.bin ?? process.env.ETCD_BIN ?? "etcd";
  const hb = opts.heartbeatMs ?? 50;
  const et = opts.electionTimeoutMs ?? 500;
  const root = mkdtempSync(join(tmpdir(), "dns-eds-etcd-"));
  const token = `t${process.pid}-${Date.now()}`;
  const specs: { name: string; client: string; peer: string; dir: string }[] = [];
  for (let i = 0; i < n; i++) {
    specs.push({
      name: `m${i}`,
      client: `http://127.0.0.1:${await freePort()}`,
      peer: `http://127.0.0.1:${await freePort()}`,
      dir: join(root, `m${i}`),
    });
  }
  const initialCluster = specs.map((s) => `${s.name}=${s.peer}`).join(",");
  const members = specs.map(
    (s) =>
      new Member(
        s.name,
        s.client,
        s.peer,
        s.dir,
        () => [
          "--name",
          s.name,
          "--data-dir",
          s.dir,
          "--listen-client-urls",
          s.client,
          "--advertise-client-urls",
          s.client,
          "--listen-peer-urls",
          s.peer,
          "--initial-advertise-peer-urls",
          s.peer,
          "--initial-cluster",
          initialCluster,
          "--initial-cluster-state",
          "new",
          "--initial-cluster-token",
          token,
          "--heartbeat-interval",
          String(hb),
          "--election-timeout",
          String(et),
          "--logger",
          "zap",
          "--log-level",
          "error",
        ],
        bin,
        opts.verbose ?? false,
        true,
      ),
  );

  const server: EtcdServer = {
    members,
    endpoints: members.map((m) => m.clientUrl),
    async leader(timeoutMs = 10_000) {
      const deadline = Date.now() + timeoutMs;
      while (Date.now() < deadline) {
        for (const m of members) {
          if (!m.running()) continue;
          const s = await m.status();
          if (s && s.memberId === s.leader) return m;
        }
        await sleep(50);
      }
      throw new Error(`no etcd leader within ${timeoutMs} ms`);
    },
    async waitHealthy(timeoutMs = 20_000) {
      await Promise.any(members.filter((m) => m.running()).map((m) => m.waitUp(timeoutMs)));
    },
    async close() {
      await Promise.all(members.map((m) => m.kill()));
      rmSync(root, { recursive: true, force: true });
    },
  };

  try {
    // Members of a new cluster only become healthy once a quorum exists, so spawn all, then wait.
    for (const m of members) m.spawnProcess();
    await Promise.all(members.map((m) => m.waitUp(30_000)));
  } catch (err) {
    await server.close();
    throw err;
  }
  return server;
}
