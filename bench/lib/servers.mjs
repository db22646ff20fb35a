// The three servers a whole-process xDS benchmark compares, each started as its own process pinned to
// the server core, behind one shape: { name, pid, port, prepare(changes), trigger(changes), memory(),
// stop() }. `changes` maps a resource name to its endpoints ("ip:port"). A round's CPU window opens
// after prepare() and before trigger():
// - dns-eds: the real `dns-eds serve` (dist/cli/main.js) with a generated config; prepare() makes the
//   DNS change on BIND and resolves once named serves it; trigger() does nothing (dns-eds notices on its
//   own refresh, as in production);
// - floor: bench/lib/floor-server.mjs, bare grpc-js with pre-encoded bytes;
// - go-control-plane: bench/peers/go-control-plane, built here into .tmp/tools/ (see buildGoPeer).
import { spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { freePort } from "./free-port.mjs";
import { rssKiB } from "./process-stats.mjs";

const here = dirname(fileURLToPath(import.meta.url));
const root = join(here, "..", "..");
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function spawnPinned(cpus, cmd, args, opts) {
  const child = cpus ? spawn("taskset", ["-c", cpus, cmd, ...args], opts) : spawn(cmd, args, opts);
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  child.once("exit", () => process.removeListener("exit", kill));
  return child;
}

async function stopChild(child, signal = "SIGTERM") {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const exited = new Promise((r) => child.once("exit", r));
  child.kill(signal);
  const t = setTimeout(() => child.kill("SIGKILL"), 10_000);
  await exited;
  clearTimeout(t);
}

/**
 * Development only: `BENCH_SERVER_NODE_ARGS="--trace-opt --trace-deopt"` (space-separated) passes V8 or
 * Node flags to every dns-eds server a bench starts, and `BENCH_SERVER_STDOUT=DIR` keeps each one's
 * stdout, where V8 writes such traces, in DIR/dns-eds-PORT.out (otherwise stdout is dropped).
 */
const serverNodeArgs = process.env.BENCH_SERVER_NODE_ARGS?.split(" ").filter((a) => a !== "") ?? [];
function serverStdout(port) {
  const dir = process.env.BENCH_SERVER_STDOUT;
  if (!dir) return "ignore";
  mkdirSync(dir, { recursive: true });
  return openSync(join(dir, `dns-eds-${port}.out`), "w");
}

/**
 * `dns-eds serve` on a generated config. `zone` is what named serves ({ origin, records(changes) });
 * `config` is the rest of the dns-eds config (clusters, limits); xds/admin/dns keys are filled in.
 */
export async function startDnsEds({
  cpus,
  named,
  config,
  env = {},
  nodeArgs = [],
  tmpDir,
  label = "dns-eds",
  main = join(root, "dist", "cli", "main.js"),
}) {
  const xdsPort = await freePort();
  const adminPort = await freePort();
  const file = join(tmpDir, `dns-eds-${xdsPort}.yaml`);
  const full = {
    ...config,
    xds: { ...(config.xds ?? {}), listen: `127.0.0.1:${xdsPort}` },
    admin: { listen: `127.0.0.1:${adminPort}` },
    dns: { servers: [named.server], minTtl: 1, timeoutMs: 1000, ...(config.dns ?? {}) },
    // The bench closes its streams before stopping a server: no drain window to wait out.
    shutdown: { drainWindowMs: 0, graceMs: 1000 },
  };
  // JSON is YAML: the config loader reads it as is.
  writeFileSync(file, JSON.stringify(full, null, 2));
  const stdout = serverStdout(xdsPort);
  const child = spawnPinned(
    cpus,
    process.execPath,
    [
      "--expose-gc",
      "-r",
      join(here, "gc-on-signal.cjs"),
      ...nodeArgs,
      ...serverNodeArgs,
      main,
      "serve",
      "--config",
      file,
      "--log-level",
      "warn",
    ],
    { stdio: ["ignore", stdout, "pipe"], env: { ...process.env, ...env } },
  );
  // The child holds its own copy of the trace file's descriptor.
  if (typeof stdout === "number") closeSync(stdout);
  let stderr = "";
  const memWaiters = [];
  createInterface({ input: child.stderr }).on("line", (line) => {
    if (line.startsWith("BENCH-MEM ")) {
      memWaiters.shift()?.(JSON.parse(line.slice(10)));
      return;
    }
    if (stderr.length < 100_000) stderr += `${line}\n`;
  });
  // Ready = every cluster resolved once (admin /readyz), so streams get content at once.
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null)
      throw new Error(`dns-eds exited with ${child.exitCode}:\n${stderr.slice(-3000)}`);
    try {
      const r = await fetch(`http://127.0.0.1:${adminPort}/readyz`);
      if (r.status === 200) break;
    } catch {}
    if (Date.now() > deadline) throw new Error(`dns-eds not ready after 60 s:\n${stderr.slice(-3000)}`);
    await sleep(100);
  }
  return {
    name: label,
    pid: child.pid,
    port: xdsPort,
    adminPort,
    log: () => stderr,
    async prepare(changes) {
      await named.apply(changes);
    },
    trigger() {},
    /** Heap, RSS and memory outside the heap after a full GC (the preload answers SIGUSR2). */
    memory() {
      const p = new Promise((resolve) => memWaiters.push(resolve));
      child.kill("SIGUSR2");
      // external and arrayBuffers: memory outside the JS heap (Buffers), which RSS counts and heapUsed not.
      return p.then((m) => ({
        rssKiB: rssKiB(child.pid),
        heapUsed: m.heapUsed,
        rss: m.rss,
        external: m.external,
        arrayBuffers: m.arrayBuffers,
      }));
    },
    stop: () => stopChild(child),
  };
}

export async function startFloor({ cpus, nodeArgs = [] }) {
  const child = spawnPinned(
    cpus,
    process.execPath,
    [...nodeArgs, "--expose-gc", join(here, "floor-server.mjs")],
    {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    },
  );
  const next = (pick) =>
    new Promise((resolve) => {
      const l = (m) => {
        const v = pick(m);
        if (v === undefined) return;
        child.off("message", l);
        resolve(v);
      };
      child.on("message", l);
    });
  const port = await next((m) => m.port);
  return {
    name: "floor",
    pid: child.pid,
    port,
    async prepare() {},
    trigger(changes) {
      for (const [name, endpoints] of changes) child.send({ cmd: "set", name, endpoints });
      child.send({ cmd: "commit" });
    },
    async memory() {
      const p = next((m) => m.mem);
      child.send({ cmd: "mem" });
      const m = await p;
      return { rssKiB: rssKiB(child.pid), heapUsed: m.heapUsed, rss: m.rss };
    },
    async stop() {
      child.send({ cmd: "close" });
      await stopChild(child, "SIGTERM");
    },
  };
}

/** Builds the go-control-plane peer into .tmp/tools/ unless a build of the same sources is there. */
export function buildGoPeer() {
  const src = join(root, "bench", "peers", "go-control-plane");
  const h = createHash("sha256");
  for (const f of ["go.mod", "go.sum", "main.go"]) h.update(readFileSync(join(src, f)));
  const out = join(root, ".tmp", "tools", "go-control-plane-peer");
  const bin = join(out, "peer");
  const stamp = join(out, "sources.sha256");
  const digest = h.digest("hex");
  if (existsSync(bin) && existsSync(stamp) && readFileSync(stamp, "utf8") === digest) return bin;
  mkdirSync(out, { recursive: true });
  const r = spawnSync("go", ["build", "-trimpath", "-o", bin, "."], {
    cwd: src,
    stdio: ["ignore", "inherit", "inherit"],
    env: { ...process.env, GOFLAGS: "-mod=mod", CGO_ENABLED: "0" },
    timeout: 600_000,
  });
  if (r.status !== 0) {
    throw new Error(
      `building the go-control-plane peer failed (go build in ${src}); needs Go and the Go module proxy`,
    );
  }
  writeFileSync(stamp, digest);
  return bin;
}

export async function startGoPeer({ cpus, cache = "linear" }) {
  const bin = buildGoPeer();
  const child = spawnPinned(cpus, bin, ["-listen", "127.0.0.1:0", "-cache", cache], {
    stdio: ["pipe", "pipe", "inherit"],
  });
  const lines = [];
  const waiters = [];
  createInterface({ input: child.stdout }).on("line", (l) => {
    const w = waiters.shift();
    if (w) w(l);
    else lines.push(l);
  });
  const line = () =>
    lines.length > 0 ? Promise.resolve(lines.shift()) : new Promise((r) => waiters.push(r));
  const first = await line();
  const m = /^listening (\d+)$/.exec(first ?? "");
  if (!m) throw new Error(`go-control-plane peer: unexpected first line ${first}`);
  let pendingAcks = 0;
  return {
    name: `go-control-plane (${cache} cache)`,
    pid: child.pid,
    port: Number(m[1]),
    async prepare() {
      // Replies of the previous trigger are read here, outside the CPU window.
      while (pendingAcks > 0) {
        const l = await line();
        pendingAcks--;
        if (!l.startsWith("ok")) throw new Error(`go-control-plane peer: ${l}`);
      }
    },
    trigger(changes) {
      let text = "";
      for (const [name, endpoints] of changes) text += `set ${name} ${endpoints.join(",")}\n`;
      child.stdin.write(`${text}commit\n`);
      pendingAcks++;
    },
    async memory() {
      await this.prepare();
      child.stdin.write("mem\n");
      const l = await line();
      const heap = /^mem (\d+)$/.exec(l);
      if (!heap) throw new Error(`go-control-plane peer: ${l}`);
      return { rssKiB: rssKiB(child.pid), heapUsed: Number(heap[1]) };
    },
    async stop() {
      child.stdin.end("quit\n");
      await stopChild(child, "SIGTERM");
    },
  };
}
