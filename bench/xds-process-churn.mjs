// W3 churn on whole processes (issue 12): 100 clusters (10 A records each on a real BIND) change
// continuously while 1,000 ADS streams, each on its own HTTP/2 connection, watch 10 of them. The figure
// is stream-updates (a stream receiving a cluster whose content changed) per second of server CPU: the
// rate one core sustains. The real `dns-eds serve` learns of changes through DNS; the floor (bare
// grpc-js, pre-encoded bytes) and go-control-plane (LinearCache and snapshot cache) get the same change
// stream directly (see bench/lib/churn.mjs). Every stream must end on the newest version of all it watches.
// Flags: --seconds 20 --warmup 5 --streams 1000 --clusters 100 --per 10 --size 10 --clients 1
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { churnPlan, churnRun, clusterName } from "./lib/churn.mjs";
import { coreLayout, pinSelf } from "./lib/cores.mjs";
import { dnsZone, startNamed } from "./lib/named.mjs";
import { report, startReport, tableRow } from "./lib/report.mjs";
import { startDnsEds, startFloor, startGoPeer } from "./lib/servers.mjs";
import { ratio } from "./lib/stats.mjs";
import { ipsOf, PORT } from "./lib/workloads.mjs";

const argv = process.argv.slice(2);
const flag = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const SECONDS = flag("seconds", 20);
const WARMUP = flag("warmup", 5);
const STREAMS = flag("streams", 1000);
const CLUSTERS = flag("clusters", 100);
const PER = flag("per", 10);
const SIZE = flag("size", 10);
// One load-client process per client core (one on a 2-core box).
const layout = coreLayout();
const CLIENTS = flag("clients", Math.max(1, layout.clientCpus.length));
const onlyAt = argv.indexOf("--only");
const ONLY = onlyAt >= 0 ? argv[onlyAt + 1].split(",") : undefined;

pinSelf(layout);
startReport("xds-process-churn", layout);
const tmp = mkdtempSync(join(tmpdir(), "dnseds-bench-churn-"));
const results = {};
try {
  const zone = dnsZone("churn.test", (name, eps) => [[name, ipsOf(eps)]]);
  const hosted = (changes) => zone.hosted(changes);
  zone.set(churnPlan({ clusters: CLUSTERS, size: SIZE }).all());
  zone.named = await startNamed({
    zones: [{ origin: "churn.test", records: zone.render() }],
    cpus: layout.others,
  });
  const run = async (id, start, via) => {
    if (ONLY && !ONLY.includes(id)) return;
    // Every run starts from version 0 of every cluster.
    const plan = churnPlan({ clusters: CLUSTERS, size: SIZE, hosted });
    await zone.apply(plan.all());
    const server = await start();
    try {
      if (via === "direct") {
        server.trigger(plan.all());
        await server.prepare();
      }
      const { out } = await churnRun({
        server,
        layout,
        plan,
        via,
        clusters: CLUSTERS,
        streams: STREAMS,
        per: PER,
        warmupS: WARMUP,
        seconds: SECONDS,
        processes: CLIENTS,
      });
      results[id] = out;
      console.log(JSON.stringify({ w3: id, ...out }));
    } finally {
      await server.stop();
    }
  };
  await run("floor", () => startFloor({ cpus: layout.server }), "direct");
  await run(
    "dnsEds",
    () =>
      startDnsEds({
        cpus: layout.server,
        named: zone,
        tmpDir: tmp,
        config: {
          dns: { allowLoopback: true },
          clusters: Array.from({ length: CLUSTERS }, (_, i) => ({
            name: clusterName(i),
            dns: { name: `${clusterName(i)}.churn.test`, port: PORT },
            ipFamily: "V4_ONLY",
            drainMs: 0,
          })),
        },
      }),
    "dns",
  );
  await run("goLinear", () => startGoPeer({ cpus: layout.server, cache: "linear" }), "direct");
  await run("goSnapshot", () => startGoPeer({ cpus: layout.server, cache: "snapshot" }), "direct");
  await zone.named.stop();

  const go = [results.goLinear, results.goSnapshot].sort((a, b) => b.updatesPerCpuS - a.updatesPerCpuS)[0];
  const r = results;
  report("w3", {
    streams: STREAMS,
    clusters: CLUSTERS,
    perStream: PER,
    updatesPerCpuSVsFloor: ratio(r.dnsEds.updatesPerCpuS, r.floor.updatesPerCpuS),
    bestGo: go.server,
    updatesPerCpuSVsGo: ratio(r.dnsEds.updatesPerCpuS, go.updatesPerCpuS),
    notOnLast: Object.values(r).reduce((s, x) => s + x.stale + x.missing, 0),
  });
  tableRow({
    what: `W3 churn, ${CLUSTERS} clusters, ${STREAMS.toLocaleString("en-US")} streams × ${PER}: stream-updates per second of server CPU`,
    ours: r.dnsEds.updatesPerCpuS,
    floor: r.floor.updatesPerCpuS,
    go: go.updatesPerCpuS,
    goal: "≥ 10,000, > go",
  });
  tableRow({
    what: "W3 stream-updates delivered per second (server CPU share)",
    ours: `${r.dnsEds.updatesPerS.toLocaleString("en-US")} (${r.dnsEds.serverCpuShare})`,
    floor: `${r.floor.updatesPerS.toLocaleString("en-US")} (${r.floor.serverCpuShare})`,
    go: `${go.updatesPerS.toLocaleString("en-US")} (${go.serverCpuShare})`,
    goal: "—",
  });
  tableRow({
    what: "W3 (stream, cluster) pairs not on the newest version at the end",
    ours: r.dnsEds.stale + r.dnsEds.missing,
    floor: r.floor.stale + r.floor.missing,
    go: go.stale + go.missing,
    goal: "0",
  });
} finally {
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
