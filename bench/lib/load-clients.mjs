// Parent side of the whole-process load client: P child processes (stream-client.mjs), each pinned with
// taskset to a client core, share N streams; their reports are merged (first receipt = earliest of any
// process, last = latest). Their CPU is read from /proc, so a bench can show whether the client, not the
// server, was the limit.
import { spawn } from "node:child_process";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { cpuMs } from "./process-stats.mjs";

const here = dirname(fileURLToPath(import.meta.url));

function withTimeout(p, ms, what) {
  let t;
  return Promise.race([
    p,
    new Promise((_, rej) => {
      t = setTimeout(() => rej(new Error(`timeout after ${ms} ms waiting for ${what}`)), ms);
    }),
  ]).finally(() => clearTimeout(t));
}

export class LoadClients {
  /** @param {{ processes: number, cpus: string[] }} opts taskset CPU list per process, round robin */
  constructor({ processes, cpus }) {
    this.children = [];
    this.listeners = new Set();
    for (let i = 0; i < processes; i++) {
      const args = [process.execPath, join(here, "stream-client.mjs")];
      const cpu = cpus.length > 0 ? cpus[i % cpus.length] : undefined;
      const child = cpu
        ? spawn("taskset", ["-c", cpu, ...args], { stdio: ["ignore", "inherit", "inherit", "ipc"] })
        : spawn(args[0], args.slice(1), { stdio: ["ignore", "inherit", "inherit", "ipc"] });
      child.on("message", (m) => {
        for (const l of [...this.listeners]) l(i, m);
      });
      const kill = () => child.kill("SIGKILL");
      process.once("exit", kill);
      child.once("exit", () => process.removeListener("exit", kill));
      this.children.push(child);
    }
  }

  get pids() {
    return this.children.map((c) => c.pid);
  }

  /** CPU ms used so far by all client processes together. */
  cpuMs() {
    return this.children.reduce((s, c) => s + cpuMs(c.pid), 0);
  }

  /** Waits for one message matching `pick` from every child; resolves with the picked values. */
  all(pick, timeoutMs, what) {
    const got = new Map();
    return withTimeout(
      new Promise((resolve) => {
        const l = (i, m) => {
          const v = pick(m);
          if (v === undefined) return;
          got.set(i, v);
          if (got.size === this.children.length) {
            this.listeners.delete(l);
            resolve([...got.values()]);
          }
        };
        this.listeners.add(l);
      }),
      timeoutMs,
      what,
    ).catch((e) => {
      this.listeners.clear();
      throw e;
    });
  }

  /** Opens n streams split across the processes; `watch` is { names } or { clusters, per, prefix }. */
  async open({ target, n, typeUrl, delta = false, base = 0, ...watch }) {
    const per = Math.ceil(n / this.children.length);
    const opened = this.all((m) => m.opened, 60_000, "streams to open");
    this.initialP = this.all((m) => m.initial, 600_000, "every stream's initial response").then((xs) => ({
      first: Math.min(...xs.map((x) => x.first)),
      last: Math.max(...xs.map((x) => x.last)),
    }));
    this.initialP.catch(() => {});
    this.children.forEach((c, i) => {
      const count = Math.max(0, Math.min(per, n - i * per));
      c.send({ cmd: "open", target, n: count, base: base + i * per, typeUrl, delta, ...watch });
    });
    await opened;
  }

  /** Resolves when every stream holds all the names it watches: { first, last } receipt times. */
  initial() {
    return this.initialP;
  }

  /** Registers round k's marker in every process (resolves once all have it). */
  async marker(k, hex) {
    const set = this.all((m) => (m.markerSet === k ? true : undefined), 10_000, `marker ${k} to be set`);
    for (const c of this.children) c.send({ cmd: "marker", round: k, hex });
    await set;
    this.roundP = this.all(
      (m) => (m.round?.k === k ? m.round : undefined),
      120_000,
      `round ${k} on every stream`,
    );
    this.roundP.catch(() => {});
  }

  /** { first, last } receipt times of the marker of the last `marker()` call on every stream. */
  async reached() {
    const xs = await this.roundP;
    return { first: Math.min(...xs.map((x) => x.first)), last: Math.max(...xs.map((x) => x.last)) };
  }

  async check(expect) {
    const p = this.all((m) => m.check, 30_000, "check");
    for (const c of this.children) c.send({ cmd: "check", expect });
    const xs = await p;
    return xs.reduce(
      (a, x) => ({ ok: a.ok + x.ok, stale: a.stale + x.stale, missing: a.missing + x.missing }),
      {
        ok: 0,
        stale: 0,
        missing: 0,
      },
    );
  }

  async counts(silentMs = 5000) {
    const p = this.all((m) => m.counts, 30_000, "counts");
    for (const c of this.children) c.send({ cmd: "counts", silentMs });
    const xs = await p;
    const out = { responses: 0, bytes: 0, updates: 0, redundant: 0, reconnects: 0, streams: 0, silent: 0 };
    for (const x of xs) for (const k of Object.keys(out)) out[k] += x[k];
    return out;
  }

  async close() {
    await Promise.all(
      this.children.map(async (c) => {
        if (c.exitCode !== null) return;
        const exited = new Promise((r) => c.once("exit", r));
        c.send({ cmd: "close" });
        const t = setTimeout(() => c.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(t);
      }),
    );
  }
}
