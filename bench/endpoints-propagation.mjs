#!/usr/bin/env node
// DNS change → every subscribed stream has the new assignment. A real BIND 9 serves a name with 1,000 A
// records; each round changes one record and reloads named (timing starts once the new SOA serial is
// served), then the endpoint pipeline's source refreshes the name. Phases: resolve (c-ares lookup of
// the changed name), build (pipeline: answer → ClusterLoadAssignment), encode (store.publish, which
// encodes once), fan-out (until the last of 1,000 ADS streams, each on its own HTTP/2 connection in a
// child process, has it). Baseline in the same run: fan-out of a pre-built CLA of the same size
// published straight to the store (the xDS floor the pipeline sits on).
// Flags: --streams 1000 --endpoints 1000 --rounds 10
import { promises as dns } from "node:dns";
import { EndpointPipeline } from "../dist/endpoints/endpoint-pipeline.js";
import { startNamed } from "./lib/named.mjs";
import { arg, LoadClient, machine, makeCla, now, pct, xds } from "./xds-harness.mjs";

// Every load-client connection comes from 127.0.0.1; the default per-peer cap (100) is for real fleets.
const BENCH_XDS_LIMITS = { maxConnectionsPerPeer: 1_000_000, maxConnections: 1_000_000 };

const STREAMS = arg("streams", 1000);
const ENDPOINTS = arg("endpoints", 1000);
const ROUNDS = arg("rounds", 10);
const T = xds.TYPE_URLS.endpoint;
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/** BIND serving svc.bench.test with ENDPOINTS A records; `change(variant)` swaps the last one and reloads. */
async function startBench() {
  const records = (variant) =>
    Array.from({ length: ENDPOINTS }, (_, i) =>
      i === ENDPOINTS - 1
        ? `svc IN A 10.200.${variant & 255}.${(variant >> 8) & 255}`
        : `svc IN A 10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
    ).join("\n");
  const named = await startNamed({ zones: [{ origin: "bench.test", records: records(0) }] });
  return {
    server: named.server,
    change: (variant) => named.setZone("bench.test", records(variant)),
    stop: () => named.stop(),
  };
}

/** EndpointSource over c-ares: lookups on demand; `refresh()` re-resolves tracked names and reports changes. */
function dnsSource(server) {
  const r = new dns.Resolver({ timeout: 2000, tries: 2 });
  r.setServers([server]);
  const tracked = new Map();
  const listeners = new Set();
  const resolve = async (name, type) => {
    const q = name.replace(/\.$/, "");
    const recs = type === "A" ? await r.resolve4(q, { ttl: true }) : [];
    return {
      name: name.endsWith(".") ? name : `${name}.`,
      type,
      rcode: 0,
      records: recs.map((x) => ({ type: "A", address: x.address, ttl: x.ttl ?? 1 })),
      ttl: 1,
      server,
      resolvedAt: Date.now(),
      stale: false,
    };
  };
  return {
    track: (name, type) => tracked.set(`${type} ${name}`, { name, type }),
    untrack: (name, type) => tracked.delete(`${type} ${name}`),
    onUpdate: (cb) => {
      listeners.add(cb);
      return () => listeners.delete(cb);
    },
    resolve,
    async refresh() {
      for (const t of tracked.values()) {
        const a = await resolve(t.name, t.type);
        for (const l of listeners) l(t.name, t.type, a);
      }
    },
  };
}

const bind = await startBench();
const store = new xds.ResourceStore();
const server = xds.createXdsServer({ store, limits: BENCH_XDS_LIMITS });
const port = await server.listen("127.0.0.1:0");

// Baseline: the same-size CLA published straight to the store.
async function baseline() {
  store.publish({ upsert: [{ typeUrl: T, name: "floor", resource: makeCla("floor", ENDPOINTS, 0) }] });
  const client = new LoadClient();
  client.open({ target: `127.0.0.1:${port}`, n: STREAMS, names: ["floor"], typeUrl: T, delta: false });
  await client.reached(1);
  const lat = [];
  for (let r = 1; r <= ROUNDS; r++) {
    const t0 = now();
    store.publish({ upsert: [{ typeUrl: T, name: "floor", resource: makeCla("floor", ENDPOINTS, r) }] });
    lat.push((await client.reached(r + 1)) - t0);
    await sleep(50);
  }
  await client.close();
  return lat;
}
const floor = await baseline();

const source = dnsSource(bind.server);
let updateAt = 0;
let publishStart = 0;
let publishEnd = 0;
const origOnUpdate = source.onUpdate;
source.onUpdate = (cb) =>
  origOnUpdate((n, t, a) => {
    updateAt = now();
    cb(n, t, a);
  });
const pipeline = new EndpointPipeline({
  source,
  debounceMs: 0,
  publisher: {
    publish(b) {
      publishStart = now();
      const r = store.publish(b);
      publishEnd = now();
      return r;
    },
  },
});
pipeline.setClusters([
  {
    name: "bench",
    sources: [
      {
        kind: "dns",
        name: "svc.bench.test",
        port: 8080,
        locality: { region: "r", zone: "z", subZone: "" },
        weight: 1,
        metadata: {},
        txtMetadata: false,
      },
    ],
    ipFamily: "V4_ONLY",
    happyEyeballs: false,
    zoneAware: false,
    grpcListener: false,
    connectTimeoutMs: 1000,
    lbPolicy: "ROUND_ROBIN",
    overprovisioningFactor: 140,
    drainMs: 0,
    allowLoopback: false,
  },
]);
for (let i = 0; i < 200 && !pipeline.snapshot()[0]?.ready; i++) await sleep(50);
const client = new LoadClient();
client.open({ target: `127.0.0.1:${port}`, n: STREAMS, names: ["bench"], typeUrl: T, delta: false });
await client.reached(1);

const phases = { resolve: [], build: [], encode: [], fanout: [], total: [] };
for (let r = 1; r <= ROUNDS; r++) {
  await bind.change(r);
  const t0 = now();
  const refreshed = source.refresh();
  await refreshed;
  const at = await client.reached(r + 1);
  phases.resolve.push(updateAt - t0);
  phases.build.push(publishStart - updateAt);
  phases.encode.push(publishEnd - publishStart);
  phases.fanout.push(at - publishEnd);
  phases.total.push(at - t0);
  await sleep(50);
}
await client.close();
pipeline.close();
await server.shutdown(500);
await bind.stop();

const summary = (xs) => ({ p50: +pct(xs, 50).toFixed(1), p99: +pct(xs, 99).toFixed(1) });
console.log(
  JSON.stringify(
    {
      bench: "endpoints-propagation",
      machine: machine(),
      streams: STREAMS,
      endpoints: ENDPOINTS,
      rounds: ROUNDS,
      ms: Object.fromEntries(Object.entries(phases).map(([k, v]) => [k, summary(v)])),
      baselineStoreFanoutMs: summary(floor),
      ratioTotalToBaselineP50: +(pct(phases.total, 50) / pct(floor, 50)).toFixed(2),
    },
    null,
    2,
  ),
);
process.exit(0);
