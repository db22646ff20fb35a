// The xDS streams' own bookkeeping, without HTTP/2: 1,000 SotW ADS streams of one build on fake calls
// (writes complete on the next turn, every response ACKed), one 1,000-endpoint CLA published per round.
// A round's CPU is the store's publish and notify, each stream's response, its write's completion and
// its ACK: what W1 spends per stream on top of the floor's writes, with none of the noise of grpc-js,
// sockets and a second process. It is an A/B tool for changes to stream-base/sotw-stream, not a table
// figure: the whole-process W1 (xds-process-fanout.mjs) is the figure.
//
//   node bench/tools/stream-bookkeeping.mjs [DIST_A [DIST_B]]   (default: dist/; B alternates with A)
//   env: N (streams, 1000), ROUNDS (400), TRIALS (3 per build), PROM=1 (real prom-client metrics),
//        CHILD_NODE_ARGS (node flags of each trial's process, e.g. "--max-semi-space-size=4")
import { spawnSync } from "node:child_process";
import { EventEmitter } from "node:events";
import { dirname, join, resolve } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const here = dirname(fileURLToPath(import.meta.url));
const N = Number(process.env.N ?? 1000);
const ROUNDS = Number(process.env.ROUNDS ?? 400);

if (process.env.BOOKKEEPING_CHILD) {
  await child(process.env.BOOKKEEPING_CHILD);
} else {
  const dists = process.argv.slice(2).map((d) => resolve(d));
  if (dists.length === 0) dists.push(join(here, "..", "..", "dist"));
  const trials = Number(process.env.TRIALS ?? 3);
  const medians = dists.map(() => []);
  // Alternating trials, each in a fresh process: a drift of the shared box reaches both builds alike.
  for (let t = 0; t < trials; t++) {
    dists.forEach((d, i) => {
      const r = spawnSync(
        process.execPath,
        [...(process.env.CHILD_NODE_ARGS?.split(" ").filter(Boolean) ?? []), fileURLToPath(import.meta.url)],
        {
          env: { ...process.env, BOOKKEEPING_CHILD: d },
          encoding: "utf8",
        },
      );
      if (r.status !== 0) throw new Error(`trial of ${d} failed:\n${r.stderr}`);
      medians[i].push(JSON.parse(r.stdout).medianMs);
    });
  }
  const mid = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
  const out = dists.map((d, i) => ({ dist: d, medianMsPerRound: mid(medians[i]), trials: medians[i] }));
  const result = { bench: "stream-bookkeeping", streams: N, rounds: ROUNDS, builds: out };
  if (out.length === 2) {
    result.bOverA = Number((out[1].medianMsPerRound / out[0].medianMsPerRound).toFixed(2));
    // Each trial of B ran right after one of A: the box's drift between trials (large on shared
    // machines) cancels in the ratio of each pair, and the median of those is the steadier figure.
    const pairs = medians[1].map((b, t) => b / medians[0][t]);
    result.bOverAPairedMedian = Number(mid(pairs).toFixed(3));
    result.bOverAPairs = pairs.map((x) => Number(x.toFixed(3)));
  }
  console.log(JSON.stringify(result));
}

async function child(dist) {
  const load = (p) => import(pathToFileURL(join(dist, p)).href);
  const { create, toBinary, fromBinary } = await import("@bufbuild/protobuf");
  const pino = (await import("pino")).default;
  const { ResourceStore } = await load("xds/resource-store.js");
  const { SotwStream } = await load("xds/sotw-stream.js");
  const { SharedResponses } = await load("xds/shared-responses.js");
  const { ConvergenceTracker } = await load("xds/convergence-tracker.js");
  const { ClientTextLog } = await load("xds/client-text-log.js");
  const { withDefaultLimits } = await load("xds/limits.js");
  const { NOOP_METRICS, completeMetrics } = await load("xds/metrics.js");
  const { createMetrics } = await load("admin/metrics.js");
  const { scanSotwRequest } = await load("xds/request-scanner.js");
  const { DiscoveryRequestSchema, DiscoveryResponseSchema } = await load(
    "gen/envoy/service/discovery/v3/discovery_pb.js",
  );
  const { TYPE_URLS } = await load("xds/type-urls.js");
  const { clusterLoadAssignment } = await load("xds/resource-builders.js");

  const EDS = TYPE_URLS.endpoint;
  const logger = pino({ level: "warn" });
  const store = new ResourceStore();
  const limits = withDefaultLimits(undefined);
  const metrics = process.env.PROM ? completeMetrics(createMetrics().xdsHooks()) : NOOP_METRICS;
  const ctx = {
    convergence: new ConvergenceTracker(() => {}, Date.now),
    store,
    logger,
    metrics,
    now: Date.now,
    limits,
    budget: { nameBytes: 0 },
    clientLog: new ClientTextLog(logger, {}),
    peer: "127.0.0.1:1",
    access: undefined,
    variantKeyOf: () => undefined,
    fixedTypeUrl: undefined,
    kind: "ads-sotw",
    onClose: () => {},
    shared: new SharedResponses(),
  };
  const cla = (k) =>
    clusterLoadAssignment("svc", [
      {
        region: "bench",
        endpoints: Array.from({ length: 1000 }, (_, i) => ({
          address: `10.${k}.${i >> 8}.${i & 255}`,
          port: 8080,
        })),
      },
    ]);
  store.publish({ upsert: [{ typeUrl: EDS, name: "svc", resource: cla(0) }] });

  let completions = [];
  class FakeCall extends EventEmitter {
    write(buf, cb) {
      this.last = buf;
      completions.push(cb);
      return true;
    }
    end() {}
  }
  const calls = [];
  for (let i = 0; i < N; i++) {
    const c = new FakeCall();
    new SotwStream({ ...ctx }, c);
    calls.push(c);
  }
  const request = (nonce, version) =>
    toBinary(
      DiscoveryRequestSchema,
      create(DiscoveryRequestSchema, {
        node: { id: "bench", cluster: "bench" },
        typeUrl: EDS,
        resourceNames: ["svc"],
        responseNonce: nonce,
        versionInfo: version,
      }),
    );
  const turn = () => new Promise((r) => setImmediate(r));
  // Pumps run on the next turn; each write completes on the turn after (as HTTP/2 takes it).
  const drain = async () => {
    for (let k = 0; k < 10; k++) {
      await turn();
      const cbs = completions;
      completions = [];
      for (const cb of cbs) cb();
    }
  };
  // Every stream got the same response (shared nonce): one ACK's bytes, scanned by each stream.
  const ackAll = () => {
    const r = fromBinary(DiscoveryResponseSchema, calls[0].last);
    const bytes = request(r.nonce, r.versionInfo);
    for (const c of calls) c.emit("data", scanSotwRequest(bytes, limits));
  };
  const first = request("", "");
  for (const c of calls) c.emit("data", scanSotwRequest(first, limits));
  await drain();
  ackAll();
  await drain();
  const versions = [1, 2, 3, 4].map(cla);
  const ms = [];
  for (let r = 0; r < ROUNDS; r++) {
    const t0 = process.cpuUsage();
    store.publish({ upsert: [{ typeUrl: EDS, name: "svc", resource: versions[r % 4] }] });
    await drain();
    ackAll();
    await drain();
    const d = process.cpuUsage(t0);
    ms.push((d.user + d.system) / 1000);
  }
  ms.sort((a, b) => a - b);
  console.log(JSON.stringify({ medianMs: ms[ms.length >> 1] }));
}
