// Soak (issue 12): W3 churn for a long time on two `dns-eds serve` replicas sharing one real etcd. 100
// clusters of 10 A records on a real BIND change continuously (every cluster every 200 ms on BIND, seen at
// each replica's refresh); 1,000 ADS streams (500 per replica, each on its own HTTP/2 connection) watch
// 10 clusters each. Sampled every interval: each replica's RSS and JS heap after a full GC, etcd keys under
// the prefix and leases, streams that heard nothing for 5 s ("stuck"). At the end the churn stops and every
// stream must hold the newest version of each cluster it watches.
// Passes when, after the warm-up (the first fifth), RSS and heap grow by less than 5 % (mean of the last
// fifth against the mean of the fifth after warm-up), no stream is ever stuck or ends stale, and etcd keys
// and leases stay bounded (the last fifth's maximum ≤ 1.05 × the earlier post-warm-up maximum + 2).
// Streams the server ends (its connection-age GOAWAY; `--connection-age-s N` shortens it) are reopened
// by the load client as Envoy would, and counted ("reconnects"); the zone driver's pace is sampled too.
// Duration: 30 minutes when run by name (`npm run bench -- soak`), else a 3-minute smoke of the same
// thing so a full `npm run bench` stays practical; `--minutes N` sets it. The series is printed and
// drawn as an SVG into .tmp/bench-results/.
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { churnPlan, clusterName } from "./lib/churn.mjs";
import { coreLayout, pinSelf } from "./lib/cores.mjs";
import { startEtcd } from "./lib/etcd.mjs";
import { LoadClients } from "./lib/load-clients.mjs";
import { dnsZone, startNamed } from "./lib/named.mjs";
import { report, startReport, tableRow } from "./lib/report.mjs";
import { startDnsEds } from "./lib/servers.mjs";
import { svgChart } from "./lib/svg-plot.mjs";
import { ipsOf, PORT } from "./lib/workloads.mjs";

const argv = process.argv.slice(2);
const flag = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? Number(argv[i + 1]) : def;
};
const named = (process.env.DNS_EDS_BENCH_FILTER ?? "").includes("soak");
const MINUTES = flag("minutes", named ? 30 : 3);
const SAMPLE_S = flag("sample", MINUTES >= 10 ? 30 : 10);
const STREAMS = flag("streams", 1000);
// The replicas' xds.limits.maxConnectionAgeMs, in seconds; default: dns-eds's own (30 min ±10%), so a
// 30-minute soak sees streams end with GOAWAY from minute 27 and the load client reconnect them.
const CONNECTION_AGE_S = flag("connection-age-s", undefined);
const CLUSTERS = 100;
const PER = 10;
const SIZE = 10;
const PREFIX = "/dns-eds/";
const TYPE_EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
/** A replica's ownership gauges from its /metrics. */
async function ownership(adminPort) {
  const text = await (await fetch(`http://127.0.0.1:${adminPort}/metrics`)).text();
  const gauge = (name) => Number(new RegExp(`^${name} (\\S+)$`, "m").exec(text)?.[1] ?? Number.NaN);
  return { owned: gauge("dnseds_ownership_owned_shards"), balanced: gauge("dnseds_ownership_balanced") };
}
const now = () => performance.timeOrigin + performance.now();

const layout = coreLayout();
pinSelf(layout);
startReport("xds-soak", layout);
console.log(JSON.stringify({ soak: { minutes: MINUTES, sampleS: SAMPLE_S, streams: STREAMS, replicas: 2 } }));
const tmp = mkdtempSync(join(tmpdir(), "dnseds-bench-soak-"));
const stops = [];
try {
  const etcd = await startEtcd({ cpus: layout.others });
  stops.push(() => etcd.stop());
  const plan = churnPlan({ clusters: CLUSTERS, size: SIZE });
  const zone = dnsZone("soak.test", (name, eps) => [[name, ipsOf(eps)]]);
  zone.set(plan.all());
  zone.named = await startNamed({
    zones: [{ origin: "soak.test", records: zone.render() }],
    cpus: layout.others,
  });
  stops.push(() => zone.named.stop());
  const config = {
    dns: { allowLoopback: true },
    ...(CONNECTION_AGE_S === undefined
      ? {}
      : { xds: { limits: { maxConnectionAgeMs: CONNECTION_AGE_S * 1000 } } }),
    cache: { etcd: { endpoints: [etcd.url], prefix: PREFIX } },
    clusters: Array.from({ length: CLUSTERS }, (_, i) => ({
      name: clusterName(i),
      dns: { name: `${clusterName(i)}.soak.test`, port: PORT },
      ipFamily: "V4_ONLY",
      drainMs: 0,
    })),
  };
  const replicas = [];
  for (const label of ["replica-a", "replica-b"]) {
    // DNS_EDS_SOAK_NODE_ARGS: extra Node flags for the replicas, e.g. "--heapsnapshot-signal=SIGUSR1"
    // to take heap snapshots during the run (kill -USR1 <pid>; written in the directory the bench runs in).
    const nodeArgs = (process.env.DNS_EDS_SOAK_NODE_ARGS ?? "").split(" ").filter(Boolean);
    const r = await startDnsEds({ cpus: layout.server, named: zone, tmpDir: tmp, config, label, nodeArgs });
    stops.push(() => r.stop());
    replicas.push(r);
  }
  const groups = [];
  for (const [k, r] of replicas.entries()) {
    const c = new LoadClients({ processes: 1, cpus: layout.clientCpus });
    stops.push(() => c.close());
    await c.open({
      target: `127.0.0.1:${r.port}`,
      n: STREAMS / 2,
      base: (k * STREAMS) / 2,
      typeUrl: TYPE_EDS,
      clusters: CLUSTERS,
      per: PER,
      prefix: "c",
    });
    groups.push(c);
  }
  await Promise.all(groups.map((g) => g.initial()));

  let stop = false;
  const all = Array.from({ length: CLUSTERS }, (_, i) => i);
  // The driver's pace, per sample: a soak whose zone changed less often than planned measured less.
  const pace = { changes: 0, maxMs: 0 };
  const driver = (async () => {
    while (!stop) {
      const t = now();
      await zone.apply(plan.bump(all));
      const took = now() - t;
      pace.changes++;
      pace.maxMs = Math.max(pace.maxMs, took);
      await sleep(Math.max(0, 200 - took));
    }
  })();

  const series = [];
  const t0 = now();
  const end = t0 + MINUTES * 60_000;
  let stuck = 0;
  while (now() < end) {
    await sleep(Math.min(SAMPLE_S * 1000, Math.max(0, end - now())));
    const mem = await Promise.all(replicas.map((r) => r.memory()));
    const counts = await Promise.all(groups.map((g) => g.counts(5000)));
    // Shards each replica holds for the fleet, and whether the split is where it should be.
    const owned = await Promise.all(replicas.map((r) => ownership(r.adminPort)));
    const s = {
      min: +((now() - t0) / 60_000).toFixed(2),
      rssMiB: mem.map((m) => +(m.rssKiB / 1024).toFixed(1)),
      heapMiB: mem.map((m) => +(m.heapUsed / 2 ** 20).toFixed(1)),
      externalMiB: mem.map((m) => +(m.external / 2 ** 20).toFixed(1)),
      etcdKeys: etcd.keys(PREFIX),
      etcdLeases: etcd.leases(),
      updates: counts.reduce((a, c) => a + c.updates, 0),
      stuck: counts.reduce((a, c) => a + c.silent, 0),
      // Per replica (each load-client group talks to one), to tell one replica's stall from both.
      stuckPerReplica: counts.map((c) => c.silent),
      updatesPerReplica: counts.map((c) => c.updates),
      streams: counts.reduce((a, c) => a + c.streams, 0),
      reconnects: counts.reduce((a, c) => a + c.reconnects, 0),
      ownedShards: owned.map((o) => o.owned),
      balanced: owned.every((o) => o.balanced === 1),
      zoneChanges: pace.changes,
      zoneChangeMaxMs: Math.round(pace.maxMs),
    };
    pace.changes = 0;
    pace.maxMs = 0;
    stuck = Math.max(stuck, s.stuck);
    series.push(s);
    console.log(JSON.stringify({ sample: s }));
  }
  stop = true;
  await driver;
  const expect = plan.expect();
  let held = { ok: 0, stale: 0, missing: 0 };
  for (let i = 0; i < 60; i++) {
    const parts = await Promise.all(groups.map((g) => g.check(expect)));
    held = parts.reduce((a, x) => ({
      ok: a.ok + x.ok,
      stale: a.stale + x.stale,
      missing: a.missing + x.missing,
    }));
    if (held.stale === 0 && held.missing === 0) break;
    await sleep(500);
  }

  // Growth after warm-up: the first fifth is warm-up; compare the last fifth with the fifth after it.
  const n = series.length;
  const fifth = Math.max(1, Math.floor(n / 5));
  const mean = (xs) => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);
  const growth = (pick) => {
    const early = series.slice(fifth, 2 * fifth);
    const late = series.slice(n - fifth);
    return +(mean(late.map(pick)) / mean(early.map(pick)) - 1).toFixed(3);
  };
  const afterWarm = series.slice(fifth);
  const bounded = (pick) =>
    pick(series[n - 1]) <=
    1.05 * Math.max(...afterWarm.slice(0, Math.max(1, afterWarm.length - fifth)).map(pick));
  const summary = {
    minutes: MINUTES,
    samples: n,
    rssGrowth: [0, 1].map((k) => growth((s) => s.rssMiB[k])),
    heapGrowth: [0, 1].map((k) => growth((s) => s.heapMiB[k])),
    etcdKeys: {
      min: Math.min(...afterWarm.map((s) => s.etcdKeys)),
      max: Math.max(...afterWarm.map((s) => s.etcdKeys)),
    },
    etcdLeases: {
      min: Math.min(...afterWarm.map((s) => s.etcdLeases)),
      max: Math.max(...afterWarm.map((s) => s.etcdLeases)),
    },
    etcdBounded: bounded((s) => s.etcdKeys) && bounded((s) => s.etcdLeases),
    maxStuck: stuck,
    // Samples in which the replicas' shards were not where rendezvous hashing puts them.
    unbalancedSamples: series.filter((x) => !x.balanced).length,
    reconnects: series[n - 1].reconnects,
    onLast: held.ok,
    notOnLast: held.stale + held.missing,
    updatesPerS: Math.round(
      (series[n - 1].updates - series[0].updates) / ((series[n - 1].min - series[0].min) * 60) || 0,
    ),
  };
  summary.pass =
    n >= 5 &&
    [...summary.rssGrowth, ...summary.heapGrowth].every((g) => g < 0.05) &&
    summary.etcdBounded &&
    summary.maxStuck === 0 &&
    summary.notOnLast === 0;
  report("soak", summary);

  const dir = join(process.cwd(), ".tmp", "bench-results");
  mkdirSync(dir, { recursive: true });
  const file = join(dir, `soak-${new Date().toISOString().replace(/[:.]/g, "-")}.svg`);
  const pts = (pick) => series.map((s) => [s.min, pick(s)]);
  writeFileSync(
    file,
    svgChart({
      title: `dns-eds soak: W3 churn, 2 replicas on etcd, ${STREAMS} streams, ${MINUTES} min`,
      panels: [
        {
          unit: "MiB (after full GC)",
          series: [
            { label: "replica A RSS", points: pts((s) => s.rssMiB[0]) },
            { label: "replica B RSS", points: pts((s) => s.rssMiB[1]) },
            { label: "replica A heap", points: pts((s) => s.heapMiB[0]) },
            { label: "replica B heap", points: pts((s) => s.heapMiB[1]) },
          ],
        },
        {
          unit: "etcd",
          series: [
            { label: `keys under ${PREFIX}`, points: pts((s) => s.etcdKeys) },
            { label: "leases", points: pts((s) => s.etcdLeases) },
          ],
        },
      ],
    }),
  );
  console.log(JSON.stringify({ plot: file }));
  const worst = (xs) => Math.max(...xs);
  tableRow({
    what: `Soak ${MINUTES} min, W3 churn on 2 replicas + etcd: RSS / heap growth after warm-up (worst replica)`,
    ours: `${(worst(summary.rssGrowth) * 100).toFixed(1)} % / ${(worst(summary.heapGrowth) * 100).toFixed(1)} %`,
    goal: "< 5 %",
  });
  tableRow({
    what: "Soak: streams stuck / not on the newest version at the end; etcd keys, leases after warm-up",
    ours: `${summary.maxStuck} / ${summary.notOnLast}; ${summary.etcdKeys.min}–${summary.etcdKeys.max}, ${summary.etcdLeases.min}–${summary.etcdLeases.max}`,
    goal: "0 / 0; bounded",
  });
} finally {
  for (const s of stops.reverse()) await s().catch(() => {});
  rmSync(tmp, { recursive: true, force: true });
}
process.exit(0);
