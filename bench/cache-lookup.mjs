#!/usr/bin/env node
// Cached-path lookups of the caching resolver (src/cache, local tier only, built dist/) against
// baselines measured in the same run: a plain `Map.get` (sync), and `await Promise.resolve(map.get())`
// (the same promise/await cost our async `resolve()` pays). Goal: ≥ 1M cached lookups/s in process.
// Also memory of the local tier per 100,000 cached names (heap after gc, --expose-gc from the runner).
import { cpus } from "node:os";
import { createCachingResolver } from "../dist/cache/caching-resolver.js";

const NAMES = Number(process.env.BENCH_NAMES ?? 100_000);
const LOOKUPS = Number(process.env.BENCH_LOOKUPS ?? 1_000_000);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
/** Lookups also run over a hot set of this many names (fits in CPU caches, like a mesh's few services). */
const HOT = Number(process.env.BENCH_HOT ?? 1000);
const gc = globalThis.gc ?? (() => undefined);

const names = Array.from({ length: NAMES }, (_, i) => `svc-${i}.bench.example.test.`);
const ip4 = (i) => `127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const upstream = {
  calls: 0,
  async resolve(name, type) {
    this.calls++;
    const i = Number(name.slice(4, name.indexOf(".")));
    return {
      name,
      type,
      rcode: 0,
      records: [{ type: "A", address: ip4(i), ttl: 3600 }],
      ttl: 3600,
      server: "bench:53",
      resolvedAt: Date.now(),
      stale: false,
    };
  },
};

function heap() {
  gc();
  gc();
  return process.memoryUsage().heapUsed;
}

const heap0 = heap();
const r = createCachingResolver({ upstream, replicaId: "bench", localMaxEntries: NAMES * 2 });
for (let i = 0; i < NAMES; i += 1000) {
  await Promise.all(names.slice(i, i + 1000).map((n) => r.resolve(n, "A")));
}
const heap1 = heap();
const bytesPerName = (heap1 - heap0) / NAMES;

// The baseline holds the same answers in a plain Map under the same keys.
const map = new Map();
for (const n of names) map.set(`A/${n}`, await r.resolve(n, "A"));
const order = Array.from({ length: 65_536 }, () => Math.floor(Math.random() * NAMES));

async function ours() {
  let s = 0;
  for (let i = 0; i < LOOKUPS; i++) {
    const a = await r.resolve(names[order[i & 65_535]], "A");
    s += a.ttl;
  }
  return s;
}
async function mapAwait() {
  let s = 0;
  for (let i = 0; i < LOOKUPS; i++) {
    const a = await Promise.resolve(map.get(`A/${names[order[i & 65_535]]}`));
    s += a.ttl;
  }
  return s;
}
function mapSync() {
  let s = 0;
  for (let i = 0; i < LOOKUPS; i++) s += map.get(`A/${names[order[i & 65_535]]}`).ttl;
  return s;
}

async function rate(fn) {
  const t = process.hrtime.bigint();
  await fn();
  return LOOKUPS / (Number(process.hrtime.bigint() - t) / 1e9);
}
const median = (xs) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

async function measure() {
  const res = { ours: [], mapAwait: [], mapSync: [] };
  await rate(ours); // warm-up
  await rate(mapAwait);
  await rate(mapSync);
  for (let i = 0; i < ROUNDS; i++) {
    res.ours.push(await rate(ours));
    res.mapAwait.push(await rate(mapAwait));
    res.mapSync.push(await rate(mapSync));
  }
  return {
    cachedLookupsPerSec: Math.round(median(res.ours)),
    baselineMapAwaitPerSec: Math.round(median(res.mapAwait)),
    baselineMapSyncPerSec: Math.round(median(res.mapSync)),
    ratioToMapAwait: +(median(res.ours) / median(res.mapAwait)).toFixed(2),
    ratioToMapSync: +(median(res.ours) / median(res.mapSync)).toFixed(2),
    goal1MPerSecMet: median(res.ours) >= 1e6,
  };
}
const all = await measure();
for (let i = 0; i < order.length; i++) order[i] = order[i] % HOT;
const hot = await measure();
const cpu = cpus();
const out = {
  bench: "cache-lookup",
  machine: `${cpu[0]?.model ?? "?"} × ${cpu.length}`,
  names: NAMES,
  lookupsPerRound: LOOKUPS,
  upstreamCalls: upstream.calls,
  [`over${NAMES}Names`]: all,
  [`overHot${HOT}Names`]: hot,
  localTierBytesPerName: Math.round(bytesPerName),
  localTierMiBPer100kNames: +((bytesPerName * 100_000) / 2 ** 20).toFixed(1),
  localTierStats: r.status().local,
};
console.log(JSON.stringify(out, null, 2));
await r.close();
