/**
 * Test helper: a dns-eds xDS server in a child process (test/support/xds-server-child.mjs over a private
 * build), so a test measures the server's own memory, not the test runner's with its attacking client
 * in it. The test publishes resources and reads RSS (after GC), stream counts, limit hits and log counts
 * over IPC.
 */
import { type ChildProcess, fork } from "node:child_process";
import { join } from "node:path";
import type { XdsLimits } from "../../src/xds/limits.js";
import { buildPrivate } from "./private-build.js";

let built: Promise<string> | undefined;
/** One private build per test file (they all need the same entry point). */
function build(): Promise<string> {
  built ??= buildPrivate("xds-child-", ["xds/index.ts"]);
  return built;
}

export interface ChildStats {
  streams: number;
  connections: number;
  limitHits: Record<string, number>;
  logs: { lines: number; longest: number; byMsg: Record<string, number>; suppressedSinceLast: number };
}

export class XdsServerProcess {
  private seq = 0;
  private readonly pending = new Map<number, { resolve: (v: unknown) => void; reject: (e: Error) => void }>();

  private constructor(
    private readonly child: ChildProcess,
    readonly port: number,
  ) {
    child.on("message", (m: { id?: number; value?: unknown; error?: string }) => {
      if (m.id === undefined) return;
      const p = this.pending.get(m.id);
      this.pending.delete(m.id);
      if (m.error !== undefined) p?.reject(new Error(m.error));
      else p?.resolve(m.value);
    });
    child.on("exit", () => {
      for (const p of this.pending.values()) p.reject(new Error("xds server process exited"));
      this.pending.clear();
    });
  }

  static async start(opts: { limits?: Partial<XdsLimits> } = {}): Promise<XdsServerProcess> {
    const dir = await build();
    const child = fork(join(import.meta.dirname, "xds-server-child.mjs"), [dir], {
      execArgv: ["--expose-gc"],
      env: { ...process.env, XDS_CHILD_OPTIONS: JSON.stringify(opts) },
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    const port = await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("xds server process did not start in 20 s")), 20_000);
      child.once("exit", (code) => reject(new Error(`xds server process exited with ${code}`)));
      child.on("message", (m: { ready?: number }) => {
        if (m.ready !== undefined) {
          clearTimeout(t);
          resolve(m.ready);
        }
      });
    });
    return new XdsServerProcess(child, port);
  }

  private call<T>(cmd: string, args?: object): Promise<T> {
    const id = ++this.seq;
    return new Promise<T>((resolve, reject) => {
      const t = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`xds server process: no answer to ${cmd} in 20 s`));
      }, 20_000);
      this.pending.set(id, {
        resolve: (v) => {
          clearTimeout(t);
          resolve(v as T);
        },
        reject: (e) => {
          clearTimeout(t);
          reject(e);
        },
      });
      this.child.send({ id, cmd, args });
    });
  }

  /** Publishes a CLA `name` with `hosts` on `port`; resolves with its version. */
  publish(name: string, hosts: string[], port = 8080): Promise<string> {
    return this.call("publish", { name, hosts, port });
  }

  /** Publishes a CLA of `n` endpoints (about 29 bytes each once encoded). */
  publishLarge(name: string, n: number, round = 0): Promise<string> {
    return this.call("publishLarge", { name, n, round });
  }

  /** The server process' RSS in bytes, after two full GCs. */
  rss(): Promise<number> {
    return this.call("rss");
  }

  stats(): Promise<ChildStats> {
    return this.call("stats");
  }

  async stop(): Promise<void> {
    if (this.child.exitCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once("exit", () => resolve()));
    await this.call("stop").catch(() => undefined);
    const t = setTimeout(() => this.child.kill("SIGKILL"), 5_000);
    await exited;
    clearTimeout(t);
  }
}
