// Fleet status (CSDS) cost: what one CSDS answer costs for a fleet of S streams × N subscribed EDS
// names, against the cheapest form of the same information (JSON.stringify of plain rows) measured in
// the same run. The streams are their status views (what XdsStreamBase.status() returns: views of the
// maps a stream keeps anyway), so this measures the classification, grouping, ClientConfig building
// and encoding, not gRPC. Flags: --streams 5000 --names 10 --rounds 15.

import os from "node:os";
import { create, toBinary } from "@bufbuild/protobuf";
import { ClusterLoadAssignmentSchema } from "../dist/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { ClientStatusResponseSchema } from "../dist/gen/envoy/service/status/v3/csds_pb.js";
import { clientConfigs, clientSnapshots } from "../dist/xds/client-status.js";
import { encodeResource } from "../dist/xds/encoded-resource.js";
import { clusterLoadAssignment } from "../dist/xds/resource-builders.js";
import { TYPE_URLS } from "../dist/xds/type-urls.js";

const arg = (k, d) => {
  const i = process.argv.indexOf(`--${k}`);
  return i > 0 ? Number(process.argv[i + 1]) : d;
};
const S = arg("streams", 5000);
const N = arg("names", 10);
const ROUNDS = arg("rounds", 15);

const names = Array.from({ length: N }, (_, i) => `svc-${i}`);
const resources = new Map(
  names.map((n) => [
    n,
    encodeResource(
      TYPE_URLS.endpoint,
      n,
      ClusterLoadAssignmentSchema,
      clusterLoadAssignment(n, [{ zone: "z1", endpoints: [{ address: "10.0.0.1", port: 80 }] }]),
    ),
  ]),
);
const now = Date.now();
const views = Array.from({ length: S }, (_, s) => {
  const acked = new Map(names.map((n) => [n, { version: resources.get(n).version, at: now - 1000 }]));
  const inflight = s % 10 === 0 ? new Map([[names[0], resources.get(names[0]).version]]) : undefined;
  return {
    kind: "ads-sotw",
    node: {
      id: `node-${s}`,
      cluster: "c",
      locality: { region: "r", zone: `z${s % 3}`, subZone: "" },
      clientFeatures: [],
      userAgent: "bench",
      userAgentName: "bench",
      userAgentVersion: "1",
      metadata: undefined,
    },
    peer: `127.0.0.1:${10000 + s}`,
    openedAt: now - 60_000,
    principal: undefined,
    types: [
      {
        typeUrl: TYPE_URLS.endpoint,
        wildcard: false,
        names: new Set(names),
        acked,
        inflight,
        inflightSince: inflight ? now - 500 : undefined,
        rejected: new Map(),
        nacks: new Map(),
        pendingSince: undefined,
      },
    ],
    current: (_t, n) => resources.get(n),
    wildcardNames: () => [],
  };
});

function timeIt(fn) {
  const out = [];
  for (let r = 0; r < ROUNDS + 3; r++) {
    const t0 = process.hrtime.bigint();
    fn();
    const ms = Number(process.hrtime.bigint() - t0) / 1e6;
    if (r >= 3) out.push(ms);
  }
  out.sort((a, b) => a - b);
  return { p50: out[Math.floor(out.length / 2)], max: out[out.length - 1] };
}

let bytes = 0;
const csds = timeIt(() => {
  const cfg = clientConfigs(clientSnapshots(views));
  bytes = toBinary(ClientStatusResponseSchema, create(ClientStatusResponseSchema, { config: cfg })).length;
});
let jsonBytes = 0;
const baseline = timeIt(() => {
  const rows = views.map((v) => ({
    node: v.node.id,
    peer: v.peer,
    resources: [...v.types[0].names].map((n) => ({
      name: n,
      version: v.types[0].acked.get(n)?.version,
      status: v.types[0].inflight?.has(n) ? "STALE" : "SYNCED",
    })),
  }));
  jsonBytes = JSON.stringify(rows).length;
});
console.log(
  `machine: ${os.cpus()[0]?.model} × ${os.cpus().length}, ${(os.totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, load ${os.loadavg()[0].toFixed(1)}`,
);
console.log(
  `CSDS answer, ${S} streams × ${N} EDS names: p50 ${csds.p50.toFixed(1)} ms (max ${csds.max.toFixed(1)}), ${(bytes / 1024).toFixed(0)} KiB encoded`,
);
console.log(
  `baseline JSON.stringify of plain rows: p50 ${baseline.p50.toFixed(1)} ms, ${(jsonBytes / 1024).toFixed(0)} KiB`,
);
console.log(
  `ratio ${(csds.p50 / baseline.p50).toFixed(2)}× the baseline; ${((csds.p50 * 1000) / (S * N)).toFixed(2)} µs per resource`,
);
