/**
 * The endpoints stage wired to the real neighbours it will run with: bind9 → the wire resolver
 * (src/dns) → the caching resolver (src/cache, local tier) as EndpointSource, the xDS ResourceStore
 * (with its NACK-rule validation) as Publisher, and the cache's health store as HealthSink. Checks the
 * seams fit as they are, SRV targets come through, and a DNS change reaches the store within TTL + refresh.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type CachingResolver, createCachingResolver } from "../../src/cache/caching-resolver.js";
import type { DnsResolver } from "../../src/dns/resolver.js";
import { createResolver } from "../../src/dns/resolver.js";
import { EndpointPipeline } from "../../src/endpoints/endpoint-pipeline.js";
import type { EndpointSource } from "../../src/endpoints/endpoint-source.js";
import type { Publisher } from "../../src/endpoints/publisher.js";
import type { ClusterLoadAssignment } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { HealthScheduler } from "../../src/health/health-scheduler.js";
import { ResourceStore } from "../../src/xds/resource-store.js";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { validateCla } from "./cla-validator.js";
import { cluster, dnsSource, srvSource } from "./fixtures.js";
import { rows } from "./pipeline-harness.js";

const ORIGIN = "stack.test";
const zone = (svc: string[]) =>
  [
    ...svc.map((ip) => `svc 1 IN A ${ip}`),
    "_h._tcp.svc 1 IN SRV 0 5 7000 t1",
    "_h._tcp.svc 1 IN SRV 1 5 7000 t2",
    "t1 1 IN A 127.0.0.21",
    "t2 1 IN A 127.0.0.22",
  ].join("\n");

let bind: BindServer;
let upstream: DnsResolver;
let cache: CachingResolver;
let pipeline: EndpointPipeline;
let scheduler: HealthScheduler;
const store = new ResourceStore();
const claOf = new Map<string, ClusterLoadAssignment>();

beforeAll(async () => {
  bind = await startBindServer({
    zones: [{ origin: ORIGIN, records: zone(["127.0.0.31", "127.0.0.32", "127.0.0.33"]) }],
  });
  upstream = createResolver({ servers: [bind.server], timeoutMs: 500, attempts: 2 });
  cache = createCachingResolver({ upstream, replicaId: "endpoints-test", policy: { minTtlSeconds: 1 } });
  await cache.start();
  // The seams, as the integrator will pass them: no adapters.
  const source: EndpointSource = cache;
  const publisher: Publisher = {
    publish: (b) => {
      const r = store.publish(b);
      for (const u of b.upsert ?? [])
        if (u.typeUrl.endsWith("ClusterLoadAssignment"))
          claOf.set(u.name, u.resource as ClusterLoadAssignment);
      return r;
    },
  };
  scheduler = new HealthScheduler({ sink: cache.healthStore() });
  pipeline = new EndpointPipeline({
    source,
    publisher,
    healthSink: cache.healthStore(),
    healthTracker: scheduler,
    debounceMs: 50,
  });
  pipeline.setClusters([
    // Backends are on loopback: both clusters opt out of the rebinding guard's loopback rule.
    cluster({
      name: "svc",
      ipFamily: "V4_ONLY",
      grpcListener: true,
      allowLoopback: true,
      sources: [dnsSource(`svc.${ORIGIN}`, 8080)],
    }),
    cluster({
      name: "srv",
      ipFamily: "V4_ONLY",
      allowLoopback: true,
      sources: [srvSource(`_h._tcp.svc.${ORIGIN}`)],
    }),
  ]);
}, 60_000);

afterAll(async () => {
  pipeline?.close();
  scheduler?.close();
  await cache?.close();
  await upstream?.close();
  await bind?.stop();
});

async function eventually(check: () => boolean, ms = 15_000): Promise<void> {
  const end = Date.now() + ms;
  for (let i = 0; i < 300 && Date.now() < end; i++) {
    if (check()) return;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error("condition not met in time");
}

describe("endpoints on the real resolver, cache and store", () => {
  it("publishes A and SRV clusters the store accepts, with SRV targets resolved", async () => {
    await eventually(() => claOf.has("svc") && claOf.has("srv"));
    expect(rows(claOf.get("svc"))).toEqual([
      "0 127.0.0.31:8080 UNKNOWN",
      "0 127.0.0.32:8080 UNKNOWN",
      "0 127.0.0.33:8080 UNKNOWN",
    ]);
    expect(rows(claOf.get("srv"))).toEqual(["0 127.0.0.21:7000 UNKNOWN", "1 127.0.0.22:7000 UNKNOWN"]);
    for (const c of claOf.values()) expect(validateCla(c)).toEqual([]);
    expect(pipeline.snapshot().every((c) => c.ready && c.errors.length === 0)).toBe(true);
  });

  it("a changed record reaches the store within TTL plus refresh", async () => {
    await bind.setZone({ origin: ORIGIN, records: zone(["127.0.0.31", "127.0.0.34"]) });
    await eventually(() => rows(claOf.get("svc")).some((r) => r.includes("127.0.0.34")), 10_000);
    const now = rows(claOf.get("svc"));
    expect(now).toContain("0 127.0.0.34:8080 UNKNOWN");
    expect(
      now
        .filter((r) => r.includes("127.0.0.32") || r.includes("127.0.0.33"))
        .every((r) => r.endsWith("DRAINING")),
    ).toBe(true);
  }, 30_000);
});
