#!/usr/bin/env node
// W2's build path in process (issue 12): a cluster of ten names with 1,000 A records each, published into
// the real ResourceStore (validation, encode) by the real EndpointPipeline, rebuilt when ONE name changes
// (one record swapped). Baseline in the same run: a new pipeline's first build of the same 10,000
// endpoints, i.e. everything made and checked from scratch (what every rebuild cost before candidates,
// endpoint messages and address checks were kept for unchanged names). CPU per build from
// process.cpuUsage(), p50/p90 over ROUNDS after WARMUP. The whole-process W2 figure is xds-process-fanout's.
// Development A/B: `--rebuild-only` skips the first builds between rebuilds (each leaves a pipeline's
// garbage behind that the next rebuild's GC pays for), and `--dist DIR` loads another build's dist/.
import { resolve } from "node:path";
import { pathToFileURL } from "node:url";

const argv = process.argv.slice(2);
const distAt = argv.indexOf("--dist");
const DIST =
  distAt >= 0 ? pathToFileURL(resolve(argv[distAt + 1])).href : new URL("../dist", import.meta.url).href;
const REBUILD_ONLY = argv.includes("--rebuild-only");
const { EndpointPipeline } = await import(`${DIST}/endpoints/endpoint-pipeline.js`);
const { ResourceStore } = await import(`${DIST}/xds/resource-store.js`);

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 60);
const WARMUP = 20;
const NAMES = 10;
const PER = 1000;
const T0 = Date.now();

const answer = (name, ips) => ({
  name,
  type: "A",
  rcode: 0,
  records: ips.map((address) => ({ type: "A", address, ttl: 30 })),
  ttl: 30,
  server: "bench",
  resolvedAt: T0,
  stale: false,
});
const names = Array.from({ length: NAMES }, (_, i) => `n${i}.bench.test.`);
/**
 * Name i's records in round r: 999 fixed ones and a marker of its own that changes every round, in a
 * shuffled order, as a real server gives them (BIND shuffles an RRset by default), not sorted.
 */
const ips = (i, r) => shuffle(fixedOrder(i, r), r * 31 + i + 1);
/** Fisher–Yates with a fixed-seed LCG: the same order for the same (i, r) in every run. */
const shuffle = (xs, seed) => {
  let x = seed >>> 0;
  for (let k = xs.length - 1; k > 0; k--) {
    x = (Math.imul(x, 1664525) + 1013904223) >>> 0;
    const j = x % (k + 1);
    [xs[k], xs[j]] = [xs[j], xs[k]];
  }
  return xs;
};
const fixedOrder = (i, r) => [
  `127.${200 + i}.${(r >> 8) & 255}.${r & 255}`,
  ...Array.from({ length: PER - 1 }, (_, k) => `127.${10 + i}.${(k + 1) >> 8}.${(k + 1) & 255}`),
];
const spec = {
  name: "svc",
  sources: names.map((name) => ({
    kind: "dns",
    name,
    port: 8080,
    locality: { region: "r1", zone: "z1", subZone: "" },
    weight: 1,
    metadata: {},
    txtMetadata: false,
  })),
  ipFamily: "V4_ONLY",
  // The bench's addresses are 127.x: the rebinding guard's loopback rule would drop every one.
  allowLoopback: true,
  happyEyeballs: false,
  zoneAware: false,
  grpcListener: false,
  connectTimeoutMs: 1000,
  lbPolicy: "ROUND_ROBIN",
  overprovisioningFactor: 140,
  drainMs: 0,
};

/** A pipeline over a scripted source; `change(i, r)` tells it name i now has round r's records. */
function pipeline(round) {
  const answers = new Map(names.map((n, i) => [n, answer(n, ips(i, round))]));
  const listeners = new Set();
  const source = {
    track() {},
    untrack() {},
    onUpdate(cb) {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    resolve: async (name) => answers.get(name) ?? answer(name, []),
  };
  const store = new ResourceStore();
  let endpoints = 0;
  const publisher = {
    publish(batch) {
      for (const u of batch.upsert ?? [])
        if (u.typeUrl.endsWith("ClusterLoadAssignment"))
          endpoints = u.resource.endpoints.reduce((n, le) => n + le.lbEndpoints.length, 0);
      return store.publish(batch);
    },
  };
  // Builds happen on flush(), never on the debounce timer.
  const p = new EndpointPipeline({ source, publisher, debounceMs: 3_600_000 });
  const claCount = () =>
    store.entries("type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment").length;
  /** Flushes until the first assignment is out (the first lookups settle a few turns later). */
  const firstBuild = async () => {
    for (let i = 0; i < 100 && claCount() === 0; i++) {
      await new Promise((r) => setImmediate(r));
      await p.flush();
    }
    // Every endpoint must be in it: a filter (a guard, a cap) dropping them would time an empty build.
    if (claCount() !== 1 || endpoints !== NAMES * PER)
      throw new Error(`the pipeline published ${endpoints} endpoints, not ${NAMES * PER}`);
  };
  const change = (i, r) => {
    const a = answer(names[i], ips(i, r));
    answers.set(names[i], a);
    for (const l of listeners) l(names[i], "A", a);
  };
  return { p, firstBuild, change };
}

const cpuMs = (f) => async () => {
  const t = process.cpuUsage();
  await f();
  const d = process.cpuUsage(t);
  return (d.user + d.system) / 1000;
};
const pct = (xs, q) => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor(q * xs.length))];

const incremental = [];
const full = [];
const live = pipeline(0);
live.p.setClusters([spec]);
await live.firstBuild();
for (let r = 1; r <= WARMUP + ROUNDS; r++) {
  // Rebuild after one name changed.
  const inc = await cpuMs(async () => {
    live.change(r % NAMES, r);
    await live.p.flush();
  })();
  if (REBUILD_ONLY) {
    if (r > WARMUP) incremental.push(inc);
    continue;
  }
  // The same content built by a pipeline that has kept nothing.
  const fresh = pipeline(r);
  const first = await cpuMs(async () => {
    fresh.p.setClusters([spec]);
    await fresh.firstBuild();
  })();
  fresh.p.close();
  if (r > WARMUP) {
    incremental.push(inc);
    full.push(first);
  }
}
live.p.close();
if (REBUILD_ONLY) {
  const p50 = +pct(incremental, 0.5).toFixed(2);
  console.log(
    JSON.stringify({
      "endpoints-rebuild-only": {
        dist: DIST,
        p50Ms: p50,
        p90Ms: +pct(incremental, 0.9).toFixed(2),
        rounds: ROUNDS,
      },
    }),
  );
  process.exit(0);
}
const out = {
  rebuildOneOfTenNamesP50Ms: +pct(incremental, 0.5).toFixed(2),
  rebuildP90Ms: +pct(incremental, 0.9).toFixed(2),
  firstBuildP50Ms: +pct(full, 0.5).toFixed(2),
  firstBuildP90Ms: +pct(full, 0.9).toFixed(2),
  ratio: +(pct(incremental, 0.5) / pct(full, 0.5)).toFixed(2),
  rounds: ROUNDS,
};
console.log(JSON.stringify({ "endpoints-rebuild": out }));
console.log(
  `W2 rebuild (10 × 1,000 A records, one name changed, pipeline + store): p50 ${out.rebuildOneOfTenNamesP50Ms} ms vs first build ${out.firstBuildP50Ms} ms → ${out.ratio}×`,
);
process.exit(0);
