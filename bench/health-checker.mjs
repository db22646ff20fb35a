#!/usr/bin/env node
// Active health checking of 10,000 endpoints (src/health/health-scheduler.ts with the real TCP probe)
// at a 5 s interval against 10,000 real listening sockets on 127.0.0.1..127.0.0.20, which live in a
// child process so the checker's CPU is measured alone. Reports the checker's CPU per second and per
// probe, RSS/heap growth per endpoint, probes per second and the busiest second against the mean
// (target ≤ 1.5×). Baseline in the same run: the same number of bare `net.connect` + destroy at the
// same concurrency without the scheduler, as CPU per connect.
import { spawn } from "node:child_process";
import { connect } from "node:net";
import { cpus } from "node:os";
import { monitorEventLoopDelay } from "node:perf_hooks";
import { HealthScheduler } from "../dist/health/health-scheduler.js";
import { LocalHealthSink } from "../dist/health/local-health-sink.js";
import { tcpProbe } from "../dist/health/tcp-check.js";

const N = Number(process.env.BENCH_ENDPOINTS ?? 10_000);
const HOSTS = 20;
const INTERVAL = 5000;
const MEASURE_MS = Number(process.env.BENCH_MEASURE_MS ?? 20_000);

// Child: listens on N sockets (ephemeral ports spread over HOSTS loopback addresses), prints them, serves until killed.
const child = spawn(
  process.execPath,
  [
    "-e",
    `
const net = require("node:net");
const [n, hosts] = process.argv.slice(1).map(Number);
const out = [];
let pending = n;
for (let i = 0; i < n; i++) {
  const host = "127.0.0." + (1 + (i % hosts));
  const s = net.createServer((c) => c.destroy());
  s.listen(0, host, () => { out.push([host, s.address().port]); if (--pending === 0) console.log(JSON.stringify(out)); });
}
setInterval(() => {}, 1 << 30);
`,
    String(N),
    String(HOSTS),
  ],
  { stdio: ["ignore", "pipe", "inherit"] },
);
const targets = await new Promise((resolve, reject) => {
  let buf = "";
  child.stdout.on("data", (d) => {
    buf += d;
    if (buf.endsWith("\n")) resolve(JSON.parse(buf));
  });
  child.once("exit", (c) => reject(new Error(`listener child exited ${c}`)));
});

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const gc = () => globalThis.gc?.();
const mem = () => {
  gc();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed };
};

// Baseline: bare connects, 512 at a time.
async function baseline() {
  const cpu0 = process.cpuUsage();
  const t0 = Date.now();
  let next = 0;
  const worker = async () => {
    while (next < targets.length) {
      const [host, port] = targets[next++];
      await new Promise((resolve) => {
        const s = connect({ host, port });
        s.once("connect", () => {
          s.destroy();
          resolve();
        });
        s.once("error", () => {
          s.destroy();
          resolve();
        });
      });
    }
  };
  await Promise.all(Array.from({ length: 512 }, worker));
  const c = process.cpuUsage(cpu0);
  return { ms: Date.now() - t0, cpuUsPerConnect: (c.user + c.system) / targets.length };
}
await baseline(); // warm-up
const base = await baseline();

const before = mem();
const sink = new LocalHealthSink();
const perSecond = new Map();
let probes = 0;
let failures = 0;
const scheduler = new HealthScheduler({
  sink,
  // Counted at start: when a probe begins is what the scheduler controls.
  probes: {
    probe: () => (t, sp, sig) => {
      const s = Math.floor(Date.now() / 1000);
      perSecond.set(s, (perSecond.get(s) ?? 0) + 1);
      return tcpProbe(t, sp, sig);
    },
  },
  maxConcurrent: 512,
  onProbe: (_k, r) => {
    probes++;
    if (!r.ok) failures++;
  },
});
const spec = {
  type: "tcp",
  intervalMs: INTERVAL,
  timeoutMs: 2000,
  healthyThreshold: 2,
  unhealthyThreshold: 3,
  initialJitter: 0.2,
  intervalJitter: 0.1,
};
for (const [address, port] of targets) scheduler.track({ address, port }, spec);
await sleep(INTERVAL * 1.5); // warm-up: every endpoint checked at least once
const mid = mem();
const loopDelay = monitorEventLoopDelay({ resolution: 10 });
loopDelay.enable();
const cpu0 = process.cpuUsage();
const probes0 = probes;
const tStart = Date.now();
perSecond.clear();
await sleep(MEASURE_MS);
const cpu = process.cpuUsage(cpu0);
loopDelay.disable();
const elapsed = (Date.now() - tStart) / 1000;
const done = probes - probes0;
const after = mem();
const full = [...perSecond.entries()]
  .filter(([s]) => s > Math.floor(tStart / 1000) && s < Math.floor(Date.now() / 1000))
  .map(([, v]) => v);
const mean = full.reduce((a, b) => a + b, 0) / Math.max(1, full.length);
scheduler.close();
child.kill("SIGKILL");

const cpuUsPerProbe = (cpu.user + cpu.system) / Math.max(1, done);
console.log(
  JSON.stringify(
    {
      bench: "health-checker",
      machine: `${cpus()[0]?.model} × ${cpus().length}`,
      node: process.version,
      endpoints: targets.length,
      intervalMs: INTERVAL,
      measuredSeconds: +elapsed.toFixed(1),
      probesPerSecond: +(done / elapsed).toFixed(0),
      failures,
      eventLoopDelayMs: {
        p50: +(loopDelay.percentile(50) / 1e6).toFixed(1),
        max: +(loopDelay.max / 1e6).toFixed(1),
      },
      requiredProbesPerSecond: +(
        targets.length /
        ((INTERVAL * (1 + spec.intervalJitter / 2)) / 1000)
      ).toFixed(0),
      busiestSecondOverRequired: +(
        Math.max(...full) /
        (targets.length / ((INTERVAL * (1 + spec.intervalJitter / 2)) / 1000))
      ).toFixed(2),
      busiestSecondOverMean: +(Math.max(...full) / mean).toFixed(2),
      quietestSecondOverMean: +(Math.min(...full) / mean).toFixed(2),
      checkerCpuPercentOfOneCore: +(((cpu.user + cpu.system) / 1e6 / elapsed) * 100).toFixed(1),
      cpuUsPerProbe: +cpuUsPerProbe.toFixed(1),
      baselineCpuUsPerBareConnect: +base.cpuUsPerConnect.toFixed(1),
      ratioCpuPerProbeToBareConnect: +(cpuUsPerProbe / base.cpuUsPerConnect).toFixed(2),
      memory: {
        rssMBBefore: +(before.rss / 2 ** 20).toFixed(1),
        rssMBChecking: +(after.rss / 2 ** 20).toFixed(1),
        heapBytesPerEndpoint: Math.round((mid.heap - before.heap) / targets.length),
        heapMBAfter: +(after.heap / 2 ** 20).toFixed(1),
      },
    },
    null,
    2,
  ),
);
process.exit(0);
