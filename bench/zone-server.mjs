#!/usr/bin/env node
// Embedded DNS zone server (src/demo/zone-server.ts) throughput against BIND 9 serving the same zone
// file, both queried by Node's c-ares resolver from a child process (so the load does not share the
// server's event loop). The zone server backs `npm start` and the demo; it only needs to be "fast
// enough", and this shows how far from a real authoritative server it is. Reports qps, p50/p99 per
// lookup, the zone server's CPU per 1,000 queries, and the ratio ours/BIND.
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { startZoneServer } from "../dist/demo/zone-server.js";

const QUERIES = Number(process.env.BENCH_QUERIES ?? 20_000);
const CONCURRENCY = Number(process.env.BENCH_CONCURRENCY ?? 32);
const ROUNDS = 3;
const zoneText = readFileSync(new URL("../examples/demo/demo.zone", import.meta.url), "utf8");
const names = ["echo.demo.dns-eds.test", "backend-1.demo.dns-eds.test", "www.demo.dns-eds.test"];

// The load generator, run as `node -e` in a child: N lookups, C at a time, latencies in µs.
const loadScript = `
const { Resolver } = require("node:dns").promises;
const [server, n, c, ...names] = process.argv.slice(1);
const r = new Resolver({ timeout: 2000, tries: 2 });
r.setServers([server]);
const lat = [];
let next = 0, errors = 0;
async function worker() {
  while (next < +n) {
    const i = next++;
    const t = process.hrtime.bigint();
    try { await r.resolve4(names[i % names.length]); } catch { errors++; }
    lat.push(Number(process.hrtime.bigint() - t) / 1000);
  }
}
const t0 = process.hrtime.bigint();
Promise.all(Array.from({ length: +c }, worker)).then(() => {
  const ms = Number(process.hrtime.bigint() - t0) / 1e6;
  lat.sort((a, b) => a - b);
  console.log(JSON.stringify({ ms, errors, p50: lat[lat.length >> 1], p99: lat[Math.floor(lat.length * 0.99)] }));
});`;

function load(server) {
  return new Promise((resolve, reject) => {
    const child = spawn(
      process.execPath,
      ["-e", loadScript, server, String(QUERIES), String(CONCURRENCY), ...names],
      {
        stdio: ["ignore", "pipe", "inherit"],
      },
    );
    let out = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 120_000);
    child.stdout.on("data", (d) => (out += d));
    child.on("exit", (code) => {
      clearTimeout(timer);
      code === 0 ? resolve(JSON.parse(out)) : reject(new Error(`load child exited ${code}`));
    });
  });
}

async function measure(label, server, cpuOf) {
  await load(server); // warm-up
  const rounds = [];
  for (let i = 0; i < ROUNDS; i++) {
    const before = cpuOf?.();
    const r = await load(server);
    const cpu = cpuOf ? cpuOf(before) : undefined;
    rounds.push({
      ...r,
      qps: QUERIES / (r.ms / 1000),
      cpuMsPer1k: cpu === undefined ? undefined : cpu / (QUERIES / 1000),
    });
  }
  rounds.sort((a, b) => a.qps - b.qps);
  const mid = rounds[rounds.length >> 1];
  return { label, ...mid };
}

async function freeUdpTcpPort() {
  const s = createSocket("udp4");
  await new Promise((r) => s.bind(0, "127.0.0.1", r));
  const port = s.address().port;
  await new Promise((r) => s.close(r));
  return port;
}

async function startNamed() {
  const dir = mkdtempSync(join(tmpdir(), "dnseds-bench-named-"));
  const port = await freeUdpTcpPort();
  writeFileSync(join(dir, "demo.zone"), zoneText);
  writeFileSync(
    join(dir, "named.conf"),
    `options { directory "${dir}"; pid-file none; session-keyfile none; listen-on port ${port} { 127.0.0.1; };
listen-on-v6 { none; }; recursion no; notify no; dnssec-validation no; };
controls { };
zone "demo.dns-eds.test." { type primary; file "${join(dir, "demo.zone")}"; };
`,
  );
  const child = spawn(
    process.env.NAMED_BIN ?? "/usr/sbin/named",
    ["-g", "-n", "1", "-c", join(dir, "named.conf")],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let log = "";
  child.stderr.on("data", (d) => (log += d));
  // Bounded wait for "running".
  for (let i = 0; i < 100 && !log.includes("running"); i++) await new Promise((r) => setTimeout(r, 100));
  if (!log.includes("running")) {
    child.kill("SIGKILL");
    throw new Error(`named did not start:\n${log}`);
  }
  return {
    server: `127.0.0.1:${port}`,
    async stop() {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const cpu = cpus();
console.log(
  `machine: ${cpu[0]?.model} × ${cpu.length} cores; ${QUERIES} A lookups per round, ${CONCURRENCY} in flight, median of ${ROUNDS} rounds`,
);

const zone = await startZoneServer({ zoneText, host: "127.0.0.1", port: 0 });
const ours = await measure("zone-server", zone.server, (before) => {
  if (!before) return process.cpuUsage();
  const d = process.cpuUsage(before);
  return (d.user + d.system) / 1000;
});
await zone.close();

let named;
let bind;
try {
  named = await startNamed();
  // named runs with one worker thread (-n 1) so the comparison is one core against one core.
  bind = await measure("bind9 (named -n 1)", named.server);
} catch (err) {
  console.log(`baseline unavailable: ${err.message}`);
} finally {
  await named?.stop();
}

const fmt = (r) =>
  `${r.label.padEnd(20)} ${Math.round(r.qps).toString().padStart(7)} qps  p50 ${Math.round(r.p50)} µs  p99 ${Math.round(r.p99)} µs  errors ${r.errors}` +
  (r.cpuMsPer1k === undefined ? "" : `  server CPU ${r.cpuMsPer1k.toFixed(1)} ms/1k queries`);
console.log(fmt(ours));
if (bind) {
  console.log(fmt(bind));
  console.log(`ratio zone-server/bind9: ${(ours.qps / bind.qps).toFixed(2)}× throughput`);
}
console.log(
  JSON.stringify({
    bench: "zone-server",
    ours,
    baseline: bind ?? null,
    ratio: bind ? ours.qps / bind.qps : null,
  }),
);
