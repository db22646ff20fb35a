/**
 * End to end: real bind9 → endpoint pipeline (+ real gRPC health checks) → real xDS server →
 * @grpc/grpc-js-xds client → real gRPC backends on 127.0.0.11..14 and ::1. The grpc-js-xds bootstrap is
 * per process, so this file is the only endpoints test that registers the xds resolver.
 */
import { createServer } from "node:net";
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";
import { HealthImplementation } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterSpec } from "../../src/endpoints/cluster-spec.js";
import { EndpointPipeline } from "../../src/endpoints/endpoint-pipeline.js";
import { HealthScheduler } from "../../src/health/health-scheduler.js";
import { LocalHealthSink } from "../../src/health/local-health-sink.js";
import type { HealthCheckSpec } from "../../src/health/types.js";
import { ResourceStore } from "../../src/xds/resource-store.js";
import { createXdsServer, type XdsServer } from "../../src/xds/server.js";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { cluster, dnsSource } from "./fixtures.js";
import { NodeDnsSource } from "./node-dns-source.js";

const WHO = "/dnseds.test.Who/Ask";
const V4 = ["127.0.0.11", "127.0.0.12", "127.0.0.13", "127.0.0.14"];
const ORIGIN = "e2e.test";

let bind: BindServer;
let xds: XdsServer;
let source: NodeDnsSource;
let pipeline: EndpointPipeline;
let scheduler: HealthScheduler;
let port = 0;
const backends = new Map<string, { server: grpc.Server; health: HealthImplementation }>();
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

/** A port free on every backend address at once, so one DNS source port reaches them all. */
async function commonPort(): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const p = 20_000 + Math.floor(Math.random() * 40_000);
    let ok = true;
    for (const host of [...V4, "::1"]) {
      ok = await new Promise<boolean>((resolve) => {
        const s = createServer();
        s.once("error", () => resolve(false));
        s.listen(p, host, () => s.close(() => resolve(true)));
      });
      if (!ok) break;
    }
    if (ok) return p;
  }
  throw new Error("no common free port");
}

async function startBackend(host: string): Promise<void> {
  const server = new grpc.Server();
  const health = new HealthImplementation({ "": "SERVING" });
  health.addToServer(server);
  server.register(
    WHO,
    (_c: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(host)),
    (b: Buffer) => b,
    (b: Buffer) => b,
    "unary",
  );
  const addr = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  backends.set(host, { server, health });
}

const records = (svcHosts: string[]) =>
  [...svcHosts.map((h) => `svc 1 IN A ${h}`), "dual 1 IN A 127.0.0.14", "dual 1 IN AAAA ::1"].join("\n");

function ask(client: grpc.Client): Promise<string> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      WHO,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      { deadline: Date.now() + 3000 },
      (err, res) => (err ? reject(err) : resolve(res?.toString() ?? "")),
    ),
  );
}

async function spread(client: grpc.Client, n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add(await ask(client));
  return seen;
}

/** Polls `check` until it holds; bounded in tries and time. */
async function eventually(check: () => Promise<boolean>, ms = 15_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (let i = 0; i < 500 && Date.now() < deadline; i++) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`condition not met in ${ms} ms${last ? `: ${String(last)}` : ""}`);
}

const specs = (dualFamily: ClusterSpec["ipFamily"]): ClusterSpec[] => [
  cluster({
    name: "svc",
    ipFamily: "V4_ONLY",
    grpcListener: true,
    healthCheck: hc,
    drainMs: 500,
    sources: [dnsSource(`svc.${ORIGIN}`, 0)],
  }),
  cluster({
    name: "dual",
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
  port = await commonPort();
  for (const h of [...V4, "::1"]) await startBackend(h);
  bind = await startBindServer({ zones: [{ origin: ORIGIN, records: records(V4.slice(0, 3)) }] });
  const store = new ResourceStore();
  xds = createXdsServer({ store });
  const xdsPort = await xds.listen("127.0.0.1:0");
  const sink = new LocalHealthSink();
  scheduler = new HealthScheduler({ sink });
  source = new NodeDnsSource(bind.server, 200);
  pipeline = new EndpointPipeline({
    source,
    publisher: store,
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
  source?.close();
  for (const b of backends.values()) b.server.forceShutdown();
  await xds?.shutdown(500);
  await bind?.stop();
});

describe("DNS → pipeline → xDS → grpc-js-xds", () => {
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
    await eventually(async () => {
      const ep = pipeline
        .snapshot()
        .find((c) => c.name === "svc")
        ?.endpoints.find((e) => e.address === "127.0.0.12");
      return ep?.health === "UNHEALTHY";
    });
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
});
