/**
 * The endpoints stage in process, on the product's own DNS path: real bind9 → the wire resolver
 * (src/dns) → the caching resolver (src/cache) → endpoint pipeline (+ real gRPC health checks through
 * the cache's health store) → real xDS server → @grpc/grpc-js-xds client → real gRPC backends on
 * 127.0.0.11..14 and ::1. An integration test of the stages as serve.ts wires them; the binary as a user
 * runs it is test/e2e/. The grpc-js-xds bootstrap is per process, so this file is the only endpoints
 * test that registers the xds resolver.
 */
import { spawn } from "node:child_process";
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CachingResolver, createCachingResolver } from "../../src/cache/caching-resolver.js";
import { createResolver, type DnsResolver } from "../../src/dns/resolver.js";
import type { ClusterSpec } from "../../src/endpoints/cluster-spec.js";
import { EndpointPipeline } from "../../src/endpoints/endpoint-pipeline.js";
import type { PublishBatch, ResourceUpsert } from "../../src/endpoints/publisher.js";
import type { ClusterLoadAssignment } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { HealthScheduler } from "../../src/health/health-scheduler.js";
import type { HealthCheckSpec } from "../../src/health/types.js";
import { ResourceStore } from "../../src/xds/resource-store.js";
import { createXdsServer, type XdsServer } from "../../src/xds/server.js";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import {
  eventually,
  freePortOnAll,
  spread,
  startWhoBackend,
  WHO_METHOD as WHO,
  type WhoBackend,
} from "../support/grpc-backends.js";
import { cluster, dnsSource, loc, srvSource } from "./fixtures.js";

const V4 = ["127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"];
const ORIGIN = "e2e.test";

let bind: BindServer;
let xds: XdsServer;
let upstream: DnsResolver;
let source: CachingResolver;
let pipeline: EndpointPipeline;
let scheduler: HealthScheduler;
let port = 0;
let store: ResourceStore;
let xdsPort = 0;
/** Last published upsert per `type name`, as the store received it. */
const published = new Map<string, ResourceUpsert>();
const backends = new Map<string, WhoBackend>();
const clients: grpc.Client[] = [];

const hc: HealthCheckSpec = {
  type: "grpc",
  intervalMs: 300,
  timeoutMs: 250,
  healthyThreshold: 1,
  unhealthyThreshold: 1,
  initialJitter: 0.5,
  intervalJitter: 0.1,
  grpcService: "",
};

const records = (svcHosts: string[]) =>
  [
    ...svcHosts.map((h) => `svc 1 IN A ${h}`),
    "dual 1 IN A 127.0.0.14",
    "dual 1 IN AAAA ::1",
    // SRV: two targets at priority 10 (weights 60/30), a backup at 20.
    `_grpc._tcp.srv 1 IN SRV 10 60 ${port} b1`,
    `_grpc._tcp.srv 1 IN SRV 10 30 ${port} b2`,
    `_grpc._tcp.srv 1 IN SRV 20 10 ${port} b3`,
    "b1 1 IN A 127.0.0.11",
    "b2 1 IN A 127.0.0.12",
    "b3 1 IN A 127.0.0.13",
    // Metadata from TXT next to the name: RFC 1464 (one pair per record) ...
    "meta 1 IN A 127.0.0.14",
    'meta 1 IN TXT "version=v2"',
    'meta 1 IN TXT "team=payments"',
    // ... and DNS-SD (one pair per string of one record), as in the demo zone.
    "meta-sd 1 IN A 127.0.0.13",
    'meta-sd 1 IN TXT "version=v3" "team=search"',
    // Two zones.
    "za 1 IN A 127.0.0.11",
    "zb 1 IN A 127.0.0.13",
  ].join("\n");

// Every backend is on loopback: each cluster opts out of the rebinding guard's loopback rule.
const specs = (dualFamily: ClusterSpec["ipFamily"]): ClusterSpec[] => [
  cluster({
    name: "srvsvc",
    allowLoopback: true,
    ipFamily: "V4_ONLY",
    grpcListener: true,
    healthCheck: hc,
    drainMs: 0,
    sources: [srvSource(`_grpc._tcp.srv.${ORIGIN}`)],
  }),
  cluster({
    name: "v2only",
    allowLoopback: true,
    ipFamily: "V4_ONLY",
    grpcListener: true,
    // gRPC clients NACK lb_policy LEAST_REQUEST; the cluster must still work for them.
    lbPolicy: "LEAST_REQUEST",
    selector: { version: "v2" },
    sources: [
      dnsSource(`meta.${ORIGIN}`, 0, { txtMetadata: true, metadata: { canary: "true" } }),
      dnsSource(`svc.${ORIGIN}`, 0, { metadata: { version: "v1" } }),
    ],
  }),
  cluster({
    name: "v3only",
    allowLoopback: true,
    ipFamily: "V4_ONLY",
    grpcListener: true,
    selector: { version: "v3" },
    sources: [
      dnsSource(`meta-sd.${ORIGIN}`, 0, { txtMetadata: true }),
      dnsSource(`meta.${ORIGIN}`, 0, { txtMetadata: true }),
    ],
  }),
  cluster({
    name: "zonal",
    allowLoopback: true,
    ipFamily: "V4_ONLY",
    grpcListener: true,
    zoneAware: true,
    healthCheck: hc,
    drainMs: 0,
    sources: [
      dnsSource(`za.${ORIGIN}`, 0, { locality: loc("z1") }),
      dnsSource(`zb.${ORIGIN}`, 0, { locality: loc("z2") }),
    ],
  }),
  cluster({
    name: "svc",
    allowLoopback: true,
    ipFamily: "V4_ONLY",
    grpcListener: true,
    healthCheck: hc,
    drainMs: 500,
    sources: [dnsSource(`svc.${ORIGIN}`, 0)],
  }),
  cluster({
    name: "dual",
    allowLoopback: true,
    ipFamily: dualFamily,
    grpcListener: true,
    healthCheck: hc,
    drainMs: 0,
    sources: [dnsSource(`dual.${ORIGIN}`, 0)],
  }),
];
const withPort = (list: ClusterSpec[]): ClusterSpec[] =>
  list.map((c) => ({ ...c, sources: c.sources.map((s) => (s.kind === "dns" ? { ...s, port } : s)) }));

beforeAll(async () => {
  port = await freePortOnAll([...V4, "::1"]);
  for (const h of [...V4, "::1"]) backends.set(h, await startWhoBackend(h, port));
  bind = await startBindServer({ zones: [{ origin: ORIGIN, records: records(V4.slice(0, 3)) }] });
  store = new ResourceStore();
  xds = createXdsServer({ store });
  xdsPort = await xds.listen("127.0.0.1:0");
  upstream = createResolver({ servers: [bind.server], timeoutMs: 500, attempts: 2 });
  source = createCachingResolver({
    upstream,
    replicaId: "pipeline-in-process",
    policy: { minTtlSeconds: 1 },
  });
  await source.start();
  const sink = source.healthStore();
  scheduler = new HealthScheduler({ sink });
  pipeline = new EndpointPipeline({
    source,
    publisher: {
      publish(b: PublishBatch) {
        const r = store.publish(b);
        for (const u of b.upsert ?? []) published.set(`${u.typeUrl.split(".").at(-1)} ${u.name}`, u);
        return r;
      },
    },
    healthSink: sink,
    healthTracker: scheduler,
    debounceMs: 50,
  });
  pipeline.setClusters(withPort(specs("V6_PREFERRED")));
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [
      {
        server_uri: `127.0.0.1:${xdsPort}`,
        channel_creds: [{ type: "insecure" }],
        server_features: ["xds_v3"],
      },
    ],
    node: { id: "e2e-endpoints", locality: { region: "r1", zone: "z1" } },
  });
  grpcXds.register();
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  pipeline?.close();
  scheduler?.close();
  await source?.close();
  await upstream?.close();
  for (const b of backends.values()) b.server.forceShutdown();
  await xds?.shutdown(500);
  await bind?.stop();
});

/** The health the pipeline holds for one endpoint of the "svc" cluster. */
function healthOf(address: string): string | undefined {
  return pipeline
    .snapshot()
    .find((c) => c.name === "svc")
    ?.endpoints.find((e) => e.address === address)?.health;
}

describe("BIND → resolver → cache → pipeline → xDS → grpc-js-xds, in process", () => {
  it("follows A records: all three reached, a removed record loses traffic, an added one gains it", async () => {
    const client = new grpc.Client("xds:///svc", grpc.credentials.createInsecure());
    clients.push(client);
    await eventually(async () => (await spread(client, 12)).size === 3);
    expect(await spread(client, 9)).toEqual(new Set(V4.slice(0, 3)));

    await bind.setZone({ origin: ORIGIN, records: records(["127.0.0.11", "127.0.0.12"]) });
    await eventually(async () => !(await spread(client, 12)).has("127.0.0.13"));

    await bind.setZone({ origin: ORIGIN, records: records(["127.0.0.11", "127.0.0.12", "127.0.0.14"]) });
    await eventually(async () => (await spread(client, 12)).has("127.0.0.14"));
  }, 60_000);

  it("NOT_SERVING → UNHEALTHY in EDS and no calls; SERVING again → back", async () => {
    const client = clients[0];
    if (!client) throw new Error("first test did not run");
    backends.get("127.0.0.12")?.health.setStatus("", "NOT_SERVING");
    await eventually(async () => healthOf("127.0.0.12") === "UNHEALTHY");
    await eventually(async () => !(await spread(client, 12)).has("127.0.0.12"));
    expect((await spread(client, 12)).has("127.0.0.12")).toBe(false);
    backends.get("127.0.0.12")?.health.setStatus("", "SERVING");
    await eventually(async () => (await spread(client, 12)).has("127.0.0.12"));
  }, 60_000);

  it("V6_PREFERRED goes to ::1, fails over to IPv4 when ::1 is unhealthy; V4_ONLY never lists IPv6", async () => {
    const client = new grpc.Client("xds:///dual", grpc.credentials.createInsecure());
    clients.push(client);
    await eventually(async () => {
      const s = await spread(client, 6);
      return s.size === 1 && s.has("::1");
    });
    backends.get("::1")?.health.setStatus("", "NOT_SERVING");
    await eventually(async () => {
      const s = await spread(client, 6);
      return s.size === 1 && s.has("127.0.0.14");
    });
    backends.get("::1")?.health.setStatus("", "SERVING");
    await eventually(async () => (await spread(client, 6)).has("::1"));

    pipeline.setClusters(withPort(specs("V4_ONLY")));
    await eventually(async () => {
      const eps = pipeline.snapshot().find((c) => c.name === "dual")?.endpoints ?? [];
      return eps.length === 1 && eps[0]?.address === "127.0.0.14";
    });
    await eventually(async () => {
      const s = await spread(client, 6);
      return s.size === 1 && s.has("127.0.0.14");
    });
  }, 60_000);

  it("SRV: priorities renumbered and weights kept; traffic stays on priority 0 until it fails", async () => {
    await eventually(async () => published.has("ClusterLoadAssignment srvsvc"));
    const cla = published.get("ClusterLoadAssignment srvsvc")?.resource as ClusterLoadAssignment;
    const got = cla.endpoints.flatMap((le) =>
      le.lbEndpoints.map((lb) => {
        const ad =
          lb.hostIdentifier.case === "endpoint" ? lb.hostIdentifier.value.address?.address : undefined;
        return `${le.priority} ${ad?.case === "socketAddress" ? ad.value.address : "?"} w${lb.loadBalancingWeight}`;
      }),
    );
    expect(got).toEqual(["0 127.0.0.11 w60", "0 127.0.0.12 w30", "1 127.0.0.13 w10"]);
    const client = new grpc.Client("xds:///srvsvc", grpc.credentials.createInsecure());
    clients.push(client);
    await eventually(async () => {
      const s = await spread(client, 12);
      return !s.has("127.0.0.13") && s.has("127.0.0.11");
    });
    for (const h of ["127.0.0.11", "127.0.0.12"]) backends.get(h)?.health.setStatus("", "NOT_SERVING");
    try {
      await eventually(async () => {
        const s = await spread(client, 6);
        return s.size === 1 && s.has("127.0.0.13");
      });
    } finally {
      for (const h of ["127.0.0.11", "127.0.0.12"]) backends.get(h)?.health.setStatus("", "SERVING");
    }
    await eventually(async () => !(await spread(client, 12)).has("127.0.0.13"));
  }, 60_000);

  it("metadata from config and TXT lands in envoy.lb; a selector cluster gets only matching endpoints", async () => {
    await eventually(async () => published.has("ClusterLoadAssignment v2only"));
    const cla = published.get("ClusterLoadAssignment v2only")?.resource as ClusterLoadAssignment;
    const eps = cla.endpoints.flatMap((le) => le.lbEndpoints);
    expect(eps).toHaveLength(1);
    expect(eps[0]?.metadata?.filterMetadata["envoy.lb"]).toEqual({
      version: "v2",
      team: "payments",
      canary: "true",
    });
    const client = new grpc.Client("xds:///v2only", grpc.credentials.createInsecure());
    clients.push(client);
    await eventually(async () => {
      const s = await spread(client, 6);
      return s.size === 1 && s.has("127.0.0.14");
    });
  }, 60_000);

  it("a DNS-SD TXT record (one pair per string) lands as separate keys and feeds the selector", async () => {
    await eventually(async () => published.has("ClusterLoadAssignment v3only"));
    const cla = published.get("ClusterLoadAssignment v3only")?.resource as ClusterLoadAssignment;
    const eps = cla.endpoints.flatMap((le) => le.lbEndpoints);
    expect(eps).toHaveLength(1);
    expect(eps[0]?.metadata?.filterMetadata["envoy.lb"]).toEqual({ version: "v3", team: "search" });
    const client = new grpc.Client("xds:///v3only", grpc.credentials.createInsecure());
    clients.push(client);
    await eventually(async () => {
      const s = await spread(client, 6);
      return s.size === 1 && s.has("127.0.0.13");
    });
  }, 60_000);

  it("zone-aware: each client stays in its zone; a dead zone spills over", async () => {
    const client = new grpc.Client("xds:///zonal", grpc.credentials.createInsecure());
    clients.push(client);
    // This process's client is in z1.
    await eventually(async () => {
      const s = await spread(client, 8);
      return s.size === 1 && s.has("127.0.0.11");
    });
    // A second client in z2 needs its own bootstrap, hence its own process.
    const z2 = await otherZoneClient("z2", "zonal");
    expect(z2).toEqual(["127.0.0.13"]);
    backends.get("127.0.0.11")?.health.setStatus("", "NOT_SERVING");
    try {
      await eventually(async () => {
        const s = await spread(client, 6);
        return s.size === 1 && s.has("127.0.0.13");
      });
    } finally {
      backends.get("127.0.0.11")?.health.setStatus("", "SERVING");
    }
    await eventually(async () => (await spread(client, 6)).has("127.0.0.11"));
  }, 60_000);

  it("a stopped backend (connection refused) goes UNHEALTHY and gets no calls; restarted, it is back", async () => {
    const client = clients[0];
    if (!client) throw new Error("first test did not run");
    const b = backends.get("127.0.0.12");
    b?.server.forceShutdown();
    backends.delete("127.0.0.12");
    await eventually(async () => healthOf("127.0.0.12") === "UNHEALTHY");
    await eventually(async () => !(await spread(client, 12)).has("127.0.0.12"));
    backends.set("127.0.0.12", await startWhoBackend("127.0.0.12", port));
    await eventually(async () => (await spread(client, 12)).has("127.0.0.12"));
  }, 60_000);
});

/** Runs a grpc-js-xds client with node zone `zone` in a child process; returns the hosts its settled calls reached. */
function otherZoneClient(zone: string, target: string): Promise<string[]> {
  const script = `
const grpc = require("@grpc/grpc-js");
require("@grpc/grpc-js-xds").register();
const client = new grpc.Client("xds:///${target}", grpc.credentials.createInsecure());
const ask = () => new Promise((res) => client.makeUnaryRequest("${WHO}", (b) => b, (b) => b, Buffer.alloc(0),
  { deadline: Date.now() + 2000 }, (e, r) => res(e ? "error" : r.toString())));
(async () => {
  const end = Date.now() + 20000;
  let last = "";
  let stable = 0;
  while (Date.now() < end) {
    const seen = new Set();
    for (let i = 0; i < 8; i++) seen.add(await ask());
    const key = [...seen].sort().join(",");
    stable = key === last && !seen.has("error") ? stable + 1 : 0;
    last = key;
    if (stable >= 2) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  console.log(JSON.stringify(last.split(",")));
  client.close();
  process.exit(0);
})();`;
  return new Promise((resolve, reject) => {
    const env = {
      ...process.env,
      GRPC_XDS_BOOTSTRAP_CONFIG: JSON.stringify({
        xds_servers: [
          {
            server_uri: `127.0.0.1:${xdsPort}`,
            channel_creds: [{ type: "insecure" }],
            server_features: ["xds_v3"],
          },
        ],
        node: { id: `e2e-${zone}`, locality: { region: "r1", zone } },
      }),
    };
    const child = spawn(process.execPath, ["-e", script], { env, stdio: ["ignore", "pipe", "inherit"] });
    let out = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), 30_000);
    child.stdout.on("data", (d) => {
      out += d;
    });
    child.once("exit", () => {
      clearTimeout(timer);
      try {
        resolve(JSON.parse(out.trim()) as string[]);
      } catch {
        reject(new Error(`zone client printed ${JSON.stringify(out)}`));
      }
    });
  });
}
