// W4 on whole processes (issue 12): 5,000 ADS streams, each on its own HTTP/2 connection, connect at once
// and each subscribe to 10 ClusterLoadAssignments of 100 endpoints (10 names on a real BIND). Reported:
// the time until every stream holds all 10 (goal ≤ 10 s), the server's CPU over that storm, and the
// server's memory per idle stream once they are all served: RSS (and JS heap where there is one) after a
// full GC, minus the same before the storm, divided by the streams. dns-eds runs as `dns-eds serve`; the
// floor and go-control-plane serve the same assignments.
// Flags: --streams 5000 --names 10 --size 100 --clients 1 --only floor,dnsEds,dnsEdsB --passes 1
// --ab-main OTHER/dist/cli/main.js (another build as dnsEdsB) --cpu-prof DIR (dns-eds
// runs under `node --cpu-prof`, profile in DIR; for development: the profiler's cost reaches the figures)
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { coreLayout, pinSelf } from "./lib/cores.mjs";
import { LoadClients } from "./lib/load-clients.mjs";
import { dnsZone, startNamed } from "./lib/named.mjs";
import { cpuMs } from "./lib/process-stats.mjs";
import { report, startReport, tableRow } from "./lib/report.mjs";
import { startDnsEds, startFloor, startGoPeer } from "./lib/servers.mjs";
import { ratio } from "./lib/stats.mjs";
import { endpoints, ipsOf, PORT } from "./lib/workloads.mjs";

const argv = process.argv.slice(2);
const flag = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const STREAMS = flag("streams", 5000);
const NAMES = flag("names", 10);
const SIZE = flag("size", 100);
// One load-client process per client core (one on a 2-core box).
const layout = coreLayout();
const CLIENTS = flag("clients", Math.max(1, layout.clientCpus.length));
const onlyAt = argv.indexOf("--only");
const ONLY = onlyAt >= 0 ? argv[onlyAt + 1].split(",") : undefined;
const abAt = argv.indexOf("--ab-main");
// Another build's cli/main.js, run as "dnsEdsB" right after dnsEds in every pass: an A/B of a change.
const AB_MAIN = abAt >= 0 ? argv[abAt + 1] : undefined;
const PASSES = Math.max(1, flag("passes", 1));
const profAt = argv.indexOf("--cpu-prof");
const CPU_PROF = profAt >= 0 ? argv[profAt + 1] : undefined;
if (CPU_PROF) mkdirSync(CPU_PROF, { recursive: true });
const TYPE_EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();

pinSelf(layout);
startReport("xds-process-connect", layout);
const tmp = mkdtempSync(join(tmpdir(), "dnseds-bench-connect-"));
const names = Array.from({ length: NAMES }, (_, i) => `w${i}`);
const zone = dnsZone("connect.test", (name, eps) => [[name, ipsOf(eps)]]);
// Each endpoint with its DNS name, which every server sends as Endpoint.hostname (workloads.mjs).
const content = zone.hosted(new Map(names.map((n, i) => [n, endpoints(10 + i, SIZE, 0)])));
const results = {};
let pass = 1;

async function storm(id, start) {
  if (ONLY && !ONLY.includes(id)) return;
  const server = await start();
  const clients = new LoadClients({ processes: CLIENTS, cpus: layout.clientCpus });
  try {
    server.trigger(content);
    await server.prepare(content);
    await sleep(500);
    const before = await server.memory();
    const cpu0 = cpuMs(server.pid);
    const k0 = clients.cpuMs();
    const t0 = now();
    // The storm's window on CLOCK_MONOTONIC in µs, the clock of V8 CPU profiles (profile-summary --windows).
    const m0 = Number(process.hrtime.bigint() / 1000n);
    await clients.open({ target: `127.0.0.1:${server.port}`, n: STREAMS, typeUrl: TYPE_EDS, names });
    const { last } = await clients.initial();
    const stormMs = last - t0;
    if (CPU_PROF && id === "dnsEds")
      writeFileSync(
        join(CPU_PROF, "round-windows.json"),
        JSON.stringify([[m0, Number(process.hrtime.bigint() / 1000n)]]),
      );
    const cpu = cpuMs(server.pid) - cpu0;
    const clientCpu = clients.cpuMs() - k0;
    await sleep(2000);
    const after = await server.memory();
    const counts = await clients.counts();
    const out = {
      server: server.name,
      streams: STREAMS,
      served: counts.streams,
      allServedMs: Math.round(stormMs),
      serverCpuMs: Math.round(cpu),
      clientCpuMs: Math.round(clientCpu),
      rssKiBPerStream: +((after.rssKiB - before.rssKiB) / STREAMS).toFixed(1),
      heapKiBPerStream:
        after.heapUsed === undefined
          ? undefined
          : +((after.heapUsed - before.heapUsed) / 1024 / STREAMS).toFixed(1),
      rssMiB: +(after.rssKiB / 1024).toFixed(1),
    };
    results[id] = out;
    console.log(JSON.stringify({ w4: id, ...out, ...(PASSES > 1 ? { pass } : {}) }));
  } finally {
    await clients.close();
    await server.stop();
  }
}

try {
  zone.set(content);
  zone.named = await startNamed({
    zones: [{ origin: "connect.test", records: zone.render() }],
    cpus: layout.others,
  });
  const dnsEds = (main) => () =>
    startDnsEds({
      main,
      cpus: layout.server,
      named: zone,
      tmpDir: tmp,
      nodeArgs: CPU_PROF ? ["--cpu-prof", "--cpu-prof-dir", CPU_PROF] : [],
      config: {
        dns: { allowLoopback: true },
        clusters: names.map((n) => ({
          name: n,
          dns: { name: `${n}.connect.test`, port: PORT },
          ipFamily: "V4_ONLY",
        })),
      },
    });
  // With --passes N every storm runs N times, interleaved; the summary is the last pass's.
  for (pass = 1; pass <= PASSES; pass++) {
    await storm("floor", () => startFloor({ cpus: layout.server }));
    await storm("dnsEds", dnsEds(undefined));
    if (AB_MAIN) await storm("dnsEdsB", dnsEds(AB_MAIN));
    await storm("goLinear", () => startGoPeer({ cpus: layout.server, cache: "linear" }));
    await storm("goSnapshot", () => startGoPeer({ cpus: layout.server, cache: "snapshot" }));
  }
  await zone.named.stop();
  const r = results;
  if (r.dnsEds && r.floor && r.goLinear && r.goSnapshot) {
    const go = [r.goLinear, r.goSnapshot].sort((a, b) => a.rssKiBPerStream - b.rssKiBPerStream)[0];
    report("w4", {
      streams: STREAMS,
      names: NAMES,
      rssVsFloor: ratio(r.dnsEds.rssKiBPerStream, r.floor.rssKiBPerStream),
      rssVsGo: ratio(r.dnsEds.rssKiBPerStream, go.rssKiBPerStream),
      bestGo: go.server,
      stormVsFloor: ratio(r.dnsEds.allServedMs, r.floor.allServedMs),
    });
    tableRow({
      what: `W4 ${STREAMS.toLocaleString("en-US")} streams × ${NAMES} CLAs connect at once: all served`,
      unit: " ms",
      ours: r.dnsEds.allServedMs,
      floor: r.floor.allServedMs,
      go: go.allServedMs,
      goal: "≤ 10,000 ms",
    });
    tableRow({
      what: "W4 server CPU over that storm",
      unit: " ms",
      ours: r.dnsEds.serverCpuMs,
      floor: r.floor.serverCpuMs,
      go: go.serverCpuMs,
      goal: "—",
    });
    tableRow({
      what: "W4 memory per idle stream (RSS after full GC)",
      unit: " KiB",
      ours: r.dnsEds.rssKiBPerStream,
      floor: r.floor.rssKiBPerStream,
      go: go.rssKiBPerStream,
      goal: "≤ 50 KB, < go",
    });
  }
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
