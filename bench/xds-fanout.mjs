// W1/W2 fan-out: push one changed CLA to many ADS streams (each on its own HTTP/2 connection, clients in
// a child process) and time until every stream has it. Compared in the same run against a floor (bare
// grpc-js writing one pre-encoded response to every stream) and against re-encoding per stream.
// Flags: --streams 1000 --endpoints 1000 --rounds 20 --w2streams 100 --w2endpoints 10000
import { toBinary } from "@bufbuild/protobuf";
import { arg, bareServer, LoadClient, machine, makeCla, now, pct, xds } from "./xds-harness.mjs";

// Every load-client connection comes from 127.0.0.1; the default per-peer cap (100) is for real fleets.
const BENCH_XDS_LIMITS = { maxConnectionsPerPeer: 1_000_000, maxConnections: 1_000_000 };

const STREAMS = arg("streams", 1000);
const ENDPOINTS = arg("endpoints", 1000);
const ROUNDS = arg("rounds", 20);
const W2_STREAMS = arg("w2streams", 100);
const W2_ENDPOINTS = arg("w2endpoints", 10000);
const T = xds.TYPE_URLS.endpoint;
const { ClusterLoadAssignmentSchema } = await import("../dist/gen/envoy/config/endpoint/v3/endpoint_pb.js");
const { encodeClusterLoadAssignment } = await import("../dist/xds/cla-encoder.js");

async function runRounds(label, port, push, { streams, delta = false, rounds }) {
  const client = new LoadClient();
  client.open({ target: `127.0.0.1:${port}`, n: streams, names: ["bench"], typeUrl: T, delta });
  await client.reached(1);
  const lat = [];
  const cpu = [];
  for (let r = 1; r <= rounds; r++) {
    const c0 = process.cpuUsage();
    const t0 = now();
    push(r);
    const at = await client.reached(r + 1);
    lat.push(at - t0);
    const c = process.cpuUsage(c0);
    cpu.push((c.user + c.system) / 1000);
    // Let ACKs settle so rounds do not overlap.
    await new Promise((res) => setTimeout(res, 20));
  }
  await client.close();
  const out = { label, p50: pct(lat, 50), p99: pct(lat, 99), serverCpuMsP50: pct(cpu, 50) };
  console.log(JSON.stringify(out));
  return out;
}

async function ours(streams, endpoints, delta, rounds) {
  const store = new xds.ResourceStore();
  store.publish({ upsert: [{ typeUrl: T, name: "bench", resource: makeCla("bench", endpoints, 0) }] });
  const server = xds.createXdsServer({ store, limits: BENCH_XDS_LIMITS });
  const port = await server.listen("127.0.0.1:0");
  const encode = [];
  const res = await runRounds(
    `dns-eds ${delta ? "delta" : "sotw"}`,
    port,
    (r) => {
      const cla = makeCla("bench", endpoints, r);
      const t = now();
      store.publish({ upsert: [{ typeUrl: T, name: "bench", resource: cla }] });
      encode.push(now() - t);
    },
    { streams, delta, rounds },
  );
  await server.shutdown(1000);
  res.publishMsP50 = pct(encode, 50);
  return res;
}

async function bare(mode, streams, endpoints, rounds) {
  const ref = { current: makeCla("bench", endpoints, 0) };
  const srv = await bareServer(mode, ref);
  srv.prepare();
  const res = await runRounds(
    mode === "floor" ? "floor (bare grpc-js, pre-encoded)" : "re-encode per stream",
    srv.port,
    (r) => {
      ref.current = makeCla("bench", endpoints, r);
      srv.push();
    },
    { streams, rounds },
  );
  srv.close();
  return res;
}

console.log(JSON.stringify({ bench: "xds-fanout", machine: machine() }));
const sizing = new xds.ResourceStore();
sizing.publish({ upsert: [{ typeUrl: T, name: "bench", resource: makeCla("bench", ENDPOINTS, 0) }] });
console.log(
  JSON.stringify({
    w1: {
      streams: STREAMS,
      endpoints: ENDPOINTS,
      rounds: ROUNDS,
      claBytes: sizing.getEncoded(T, "bench").bytes.length,
    },
  }),
);
const floor = await bare("floor", STREAMS, ENDPOINTS, ROUNDS);
const sotw = await ours(STREAMS, ENDPOINTS, false, ROUNDS);
const delta = await ours(STREAMS, ENDPOINTS, true, ROUNDS);
const reenc = await bare("reencode", STREAMS, ENDPOINTS, Math.min(ROUNDS, 5));
console.log(
  JSON.stringify({
    w1Ratios: {
      sotwP50VsFloor: +(sotw.p50 / floor.p50).toFixed(2),
      deltaP50VsFloor: +(delta.p50 / floor.p50).toFixed(2),
      reencodeVsSotwP50: +(reenc.p50 / sotw.p50).toFixed(2),
      reencodeVsDeltaP50: +(reenc.p50 / delta.p50).toFixed(2),
    },
  }),
);

// W2: one large CLA to fewer streams; encode time is the store's publish (encode once + hash).
const w2floor = await bare("floor", W2_STREAMS, W2_ENDPOINTS, ROUNDS);
const w2 = await ours(W2_STREAMS, W2_ENDPOINTS, false, ROUNDS);
const st = new xds.ResourceStore();
const enc = [];
const fastEnc = [];
const pub = [];
for (let r = 0; r < 20; r++) {
  const cla = makeCla("bench", W2_ENDPOINTS, r);
  let t = now();
  const generic = toBinary(ClusterLoadAssignmentSchema, cla);
  enc.push(now() - t);
  // The specialised encoder the store now uses for CLAs, on the same message in the same run.
  t = now();
  const fast = encodeClusterLoadAssignment(cla);
  fastEnc.push(now() - t);
  if (fast === undefined || !Buffer.from(generic).equals(fast)) throw new Error("fast CLA encoder diverged");
  t = now();
  st.publish({ upsert: [{ typeUrl: T, name: "bench", resource: cla }] });
  pub.push(now() - t);
}
console.log(
  JSON.stringify({
    w2: {
      streams: W2_STREAMS,
      endpoints: W2_ENDPOINTS,
      claBytes: st.getEncoded(T, "bench").bytes.length,
      p50: w2.p50,
      p99: w2.p99,
      floorP50: w2floor.p50,
      ratioVsFloor: +(w2.p50 / w2floor.p50).toFixed(2),
      encodeMsP50: +pct(enc, 50).toFixed(2),
      encodeMsMin: +pct(enc, 0).toFixed(2),
      fastEncodeMsP50: +pct(fastEnc, 50).toFixed(2),
      fastEncodeVsToBinaryP50: +(pct(fastEnc, 50) / pct(enc, 50)).toFixed(2),
      // validate + encode (fast CLA encoder) + hash + notify
      publishMsP50: +pct(pub, 50).toFixed(2),
    },
  }),
);
