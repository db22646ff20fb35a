#!/usr/bin/env node
// Build + encode cost of ClusterLoadAssignments from DNS answers (src/endpoints/assignment-builder.ts)
// for 1,000 and 10,000 endpoints, against a baseline measured in the same run: protobuf-es `create` +
// `toBinary` of an already-built plain init object with the same endpoints (the floor for producing the
// bytes at all). Cases: plain IPv4 in one locality; and dual-stack, 4 zones, zone-aware (base + 4
// variants), happy eyeballs, with health and metadata. Reports p50/p99 ms, bytes, and ratio to baseline.
import { cpus } from "node:os";
import { create, toBinary } from "@bufbuild/protobuf";
import { buildAssignment } from "../dist/endpoints/assignment-builder.js";
import { extractCandidates } from "../dist/endpoints/endpoint-candidates.js";
import { ClusterLoadAssignmentSchema } from "../dist/gen/envoy/config/endpoint/v3/endpoint_pb.js";

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 30);
const WARMUP = 10;
const T0 = Date.now();

const ip4 = (i) => `127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
const ip6 = (i) => `fd00::${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}`;
const ans = (name, type, records) => ({
  name,
  type,
  rcode: 0,
  records,
  ttl: 30,
  server: "bench",
  resolvedAt: T0,
  stale: false,
});

function spec(n, fancy) {
  const zones = fancy ? ["za", "zb", "zc", "zd"] : ["za"];
  return {
    name: `bench-${n}`,
    sources: zones.map((zone) => ({
      kind: "dns",
      name: `${zone}.bench.test`,
      port: 8080,
      locality: { region: "r1", zone, subZone: "" },
      weight: 1,
      metadata: fancy ? { version: "v2" } : {},
      txtMetadata: false,
    })),
    ipFamily: fancy ? "V6_PREFERRED" : "V4_ONLY",
    happyEyeballs: fancy,
    zoneAware: fancy,
    grpcListener: false,
    connectTimeoutMs: 1000,
    lbPolicy: "ROUND_ROBIN",
    overprovisioningFactor: 140,
    drainMs: 0,
    ...(fancy
      ? {
          healthCheck: {
            type: "tcp",
            intervalMs: 5000,
            timeoutMs: 1000,
            healthyThreshold: 1,
            unhealthyThreshold: 1,
            initialJitter: 0,
            intervalJitter: 0,
          },
        }
      : {}),
  };
}

function resolutions(n, fancy) {
  const zones = fancy ? 4 : 1;
  const per = Math.ceil(n / zones / (fancy ? 2 : 1));
  return Array.from({ length: zones }, (_, z) => {
    const a = [];
    const aaaa = [];
    for (let i = 0; i < per; i++) {
      a.push({ type: "A", address: ip4(z * per + i + 1), ttl: 30 });
      if (fancy) aaaa.push({ type: "AAAA", address: ip6(z * per + i + 1), ttl: 30 });
    }
    return {
      a: ans(`z${z}.bench.test.`, "A", a),
      ...(fancy ? { aaaa: ans(`z${z}.bench.test.`, "AAAA", aaaa) } : {}),
    };
  });
}

function baselineInit(cla) {
  // The same content as plain init objects (what a hand-written producer would hold).
  return {
    clusterName: cla.clusterName,
    policy: { overprovisioningFactor: 140 },
    endpoints: cla.endpoints.map((le) => ({
      locality: { region: le.locality.region, zone: le.locality.zone, subZone: le.locality.subZone },
      loadBalancingWeight: le.loadBalancingWeight,
      priority: le.priority,
      lbEndpoints: le.lbEndpoints.map((lb) => ({
        hostIdentifier: {
          case: "endpoint",
          value: {
            address: lb.hostIdentifier.value.address,
            hostname: lb.hostIdentifier.value.hostname,
            additionalAddresses: lb.hostIdentifier.value.additionalAddresses,
          },
        },
        healthStatus: lb.healthStatus,
        loadBalancingWeight: lb.loadBalancingWeight,
        metadata: lb.metadata,
      })),
    })),
  };
}

const pct = (xs, p) => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor(s.length * p))];
};
const time = (fn) => {
  const t = process.hrtime.bigint();
  const r = fn();
  return [Number(process.hrtime.bigint() - t) / 1e6, r];
};

const results = [];
for (const fancy of [false, true]) {
  for (const n of [1000, 10_000]) {
    const s = spec(n, fancy);
    const res = resolutions(n, fancy);
    const health = (k) => (k.charCodeAt(k.length - 6) % 3 === 0 ? "UNHEALTHY" : "HEALTHY");
    const zones = fancy ? ["za", "zb", "zc", "zd"] : [];
    const run = () => {
      const candidates = extractCandidates(s, res);
      const base = buildAssignment({ spec: s, candidates, health });
      let bytes = toBinary(ClusterLoadAssignmentSchema, base).length;
      for (const zone of zones)
        bytes += toBinary(
          ClusterLoadAssignmentSchema,
          buildAssignment({ spec: s, candidates, health, clientZone: { region: "", zone } }),
        ).length;
      return { base, bytes };
    };
    const { base } = run();
    const init = baselineInit(base);
    const baseline = () => {
      let bytes = 0;
      for (let v = 0; v < 1 + zones.length; v++)
        bytes += toBinary(ClusterLoadAssignmentSchema, create(ClusterLoadAssignmentSchema, init)).length;
      return bytes;
    };
    const ours = [];
    const floor = [];
    let bytes = 0;
    for (let r = 0; r < WARMUP + ROUNDS; r++) {
      const [t1, out] = time(run);
      const [t2] = time(baseline);
      if (r >= WARMUP) {
        ours.push(t1);
        floor.push(t2);
        bytes = out.bytes;
      }
    }
    const endpoints = base.endpoints.reduce((a, le) => a + le.lbEndpoints.length, 0);
    results.push({
      case: fancy
        ? "dual-stack, 4 zones zone-aware (+4 variants), happy eyeballs, health, metadata"
        : "IPv4, one locality",
      addresses: n,
      lbEndpoints: endpoints,
      bytes,
      buildEncodeMs: { p50: +pct(ours, 0.5).toFixed(2), p99: +pct(ours, 0.99).toFixed(2) },
      baselineCreateEncodeMs: { p50: +pct(floor, 0.5).toFixed(2), p99: +pct(floor, 0.99).toFixed(2) },
      ratioP50: +(pct(ours, 0.5) / pct(floor, 0.5)).toFixed(2),
    });
  }
}
console.log(
  JSON.stringify(
    {
      bench: "endpoints-build",
      machine: `${cpus()[0]?.model} × ${cpus().length}`,
      node: process.version,
      rounds: ROUNDS,
      results,
    },
    null,
    2,
  ),
);
