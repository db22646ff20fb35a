import { afterEach, describe, expect, it } from "vitest";
import type { ClusterSpec } from "../../src/endpoints/cluster-spec.js";
import { lookupKey } from "../../src/endpoints/endpoint-source.js";
import { healthCheckSpec } from "../support/health-check-spec.js";
import { validateCla } from "./cla-validator.js";
import { a, aaaa, answer, cluster, dnsSource, loc, srv, srvSource, T0, txtRecs } from "./fixtures.js";
import { closeRigs, pipelineRig, rows } from "./pipeline-harness.js";

const hc = healthCheckSpec();

afterEach(closeRigs);

function setup(opts: { withHealth?: boolean; debounceMs?: number } = {}) {
  return pipelineRig({ debounceMs: opts.debounceMs ?? 100, health: opts.withHealth === true, errors: true });
}

const svc = (over: Partial<ClusterSpec> = {}) => cluster({ name: "svc", ...over });

describe("endpoint pipeline", () => {
  it("publishes CDS, EDS, LDS and RDS once every source has answered, after the debounce window", async () => {
    const { clock, source, publisher, p } = setup();
    source.set(a("svc.example.com", "10.0.0.1", "10.0.0.2"));
    source.set(aaaa("svc.example.com"));
    p.setClusters([svc({ grpcListener: true })]);
    expect([...source.tracked].sort()).toEqual(["A svc.example.com.", "AAAA svc.example.com."]);
    await clock.advance(99);
    expect(publisher.batches).toHaveLength(0);
    await clock.advance(1);
    expect(publisher.summary()).toEqual([
      ["Cluster svc", "ClusterLoadAssignment svc", "Listener svc", "RouteConfiguration svc"],
    ]);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:8080 UNKNOWN", "0 10.0.0.2:8080 UNKNOWN"]);
  });

  it("coalesces a burst of DNS updates into one push and skips pushes of unchanged content", async () => {
    const { clock, source, publisher, p } = setup();
    source.set(a("svc.example.com", "10.0.0.1"));
    source.set(aaaa("svc.example.com"));
    p.setClusters([svc()]);
    await clock.advance(200);
    expect(publisher.batches).toHaveLength(1);
    for (let i = 2; i <= 6; i++)
      source.push(a("svc.example.com", ...Array.from({ length: i }, (_, k) => `10.0.0.${k + 1}`)));
    await clock.advance(200);
    expect(publisher.summary().slice(1)).toEqual([["ClusterLoadAssignment svc"]]);
    expect(rows(publisher.lastCla("svc"))).toHaveLength(6);
    // Same records, later resolution and different TTL: same bytes, no push.
    source.push({
      ...a("svc.example.com", "10.0.0.6", "10.0.0.5", "10.0.0.4", "10.0.0.3", "10.0.0.2", "10.0.0.1"),
      resolvedAt: T0 + 5000,
      ttl: 7,
    });
    await clock.advance(500);
    expect(publisher.batches).toHaveLength(2);
  });

  it("rebuilds only the clusters a name feeds", async () => {
    const { clock, source, publisher, p } = setup();
    source.set(a("one.svc", "10.0.1.1"));
    source.set(a("two.svc", "10.0.2.1"));
    p.setClusters([
      svc({ name: "one", ipFamily: "V4_ONLY", sources: [dnsSource("one.svc", 80)] }),
      svc({ name: "two", ipFamily: "V4_ONLY", sources: [dnsSource("two.svc", 80)] }),
    ]);
    await clock.advance(200);
    source.push(a("two.svc", "10.0.2.2"));
    await clock.advance(200);
    expect(publisher.summary()[1]).toEqual(["ClusterLoadAssignment two"]);
  });

  it("keeps the last good set on DNS failure but empties it on an empty NOERROR", async () => {
    const { clock, source, publisher, p } = setup();
    source.set(a("ok.svc", "10.0.0.1"));
    source.fail("down.svc", "A");
    const spec = svc({
      ipFamily: "V4_ONLY",
      sources: [dnsSource("ok.svc", 80), dnsSource("down.svc", 80, { locality: loc("z2") })],
    });
    p.setClusters([spec]);
    await clock.advance(200);
    // A failed first lookup does not hold the cluster back forever.
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:80 UNKNOWN"]);
    expect(p.snapshot()[0]?.errors[0]).toContain("ERR_DNS_TIMEOUT");
    source.push(a("down.svc", "10.0.0.9"));
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:80 UNKNOWN", "0 10.0.0.9:80 UNKNOWN"]);
    expect(p.snapshot()[0]?.errors).toEqual([]);
    source.push({ ...a("ok.svc"), resolvedAt: T0 + 1000 });
    await clock.advance(200);
    const last = rows(publisher.lastCla("svc"));
    expect(last).toContain("0 10.0.0.9:80 UNKNOWN");
    expect(last).toContain("0 10.0.0.1:80 DRAINING");
  });

  it("counts a cluster resolved (readiness) only once an assignment built from an answer is published, not after a failed first lookup", async () => {
    const { clock, source, publisher, p } = setup();
    source.fail("down.svc", "A");
    p.setClusters([svc({ ipFamily: "V4_ONLY", sources: [dnsSource("down.svc", 80)] })]);
    await clock.advance(200);
    // The failure publishes an empty assignment (clients are not kept waiting) but is not a resolution.
    expect(rows(publisher.lastCla("svc"))).toEqual([]);
    expect(p.snapshot().map((c) => [c.ready, c.resolved])).toEqual([[true, false]]);
    // What /readyz reads.
    expect(p.unresolved()).toEqual(["svc"]);
    source.push(a("down.svc", "10.0.0.9"));
    // The answer is in but not yet published (debounce): still not resolved.
    expect(p.unresolved()).toEqual(["svc"]);
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.9:80 UNKNOWN"]);
    expect(p.snapshot()[0]?.resolved).toBe(true);
    expect(p.unresolved()).toEqual([]);
  });

  it("lists endpoints that left DNS as DRAINING for the drain window, then removes them", async () => {
    const { clock, source, publisher, p } = setup();
    source.set(a("svc.example.com", "10.0.0.1", "10.0.0.2"));
    source.set(aaaa("svc.example.com"));
    p.setClusters([svc({ drainMs: 5000 })]);
    await clock.advance(200);
    source.push(a("svc.example.com", "10.0.0.1"));
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:8080 UNKNOWN", "0 10.0.0.2:8080 DRAINING"]);
    expect(p.snapshot()[0]?.endpoints.map((e) => e.draining)).toEqual([false, true]);
    await clock.advance(4000);
    expect(publisher.batches).toHaveLength(2);
    await clock.advance(1200); // drain window ends, plus one debounce
    expect(publisher.batches).toHaveLength(3);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:8080 UNKNOWN"]);
    // Coming back during a drain cancels it.
    source.push(a("svc.example.com", "10.0.0.1", "10.0.0.3"));
    await clock.advance(200);
    source.push(a("svc.example.com", "10.0.0.1"));
    await clock.advance(200);
    source.push(a("svc.example.com", "10.0.0.1", "10.0.0.3"));
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:8080 UNKNOWN", "0 10.0.0.3:8080 UNKNOWN"]);
  });

  it("feeds endpoints to the health checker and republishes on health changes", async () => {
    const { clock, source, publisher, sink, tracker, p } = setup({ withHealth: true });
    source.set(a("svc.example.com", "10.0.0.1", "10.0.0.2"));
    source.set(aaaa("svc.example.com"));
    p.setClusters([
      svc({ healthCheck: hc, drainMs: 0 }),
      svc({ name: "nohc", sources: [dnsSource("svc.example.com", 9090)] }),
    ]);
    await clock.advance(200);
    expect([...tracker.tracked].sort()).toEqual(["10.0.0.1|8080", "10.0.0.2|8080"]);
    sink.set("10.0.0.1|8080", "HEALTHY");
    sink.set("10.0.0.2|8080", "UNHEALTHY");
    await clock.advance(200);
    expect(publisher.summary()[1]).toEqual(["ClusterLoadAssignment svc"]);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:8080 HEALTHY", "0 10.0.0.2:8080 UNHEALTHY"]);
    // Unrelated keys do not cause pushes.
    sink.set("10.9.9.9|8080", "UNHEALTHY");
    await clock.advance(200);
    expect(publisher.batches).toHaveLength(2);
    source.push(a("svc.example.com", "10.0.0.1"));
    await clock.advance(200);
    expect([...tracker.tracked]).toEqual(["10.0.0.1|8080"]);
  });

  it("applies config changes: changed cluster fields, removed clusters, dropped listeners", async () => {
    const { clock, source, publisher, p } = setup();
    source.set(a("svc.example.com", "10.0.0.1"));
    source.set(aaaa("svc.example.com"));
    source.set(a("other.svc", "10.0.0.2"));
    p.setClusters([
      svc({ grpcListener: true }),
      svc({ name: "other", ipFamily: "V4_ONLY", sources: [dnsSource("other.svc", 80)] }),
    ]);
    await clock.advance(200);
    p.setClusters([
      svc({ grpcListener: true }),
      svc({ name: "other", ipFamily: "V4_ONLY", sources: [dnsSource("other.svc", 80)] }),
    ]);
    await clock.advance(200);
    expect(publisher.batches).toHaveLength(1); // same config: nothing to do
    p.setClusters([svc({ grpcListener: false, lbPolicy: "RANDOM" })]);
    await clock.advance(200);
    expect(publisher.summary()[1]).toEqual(
      [
        "Cluster svc",
        "ClusterLoadAssignment svc",
        "-Listener svc",
        "-RouteConfiguration svc",
        "-Listener other",
        "-RouteConfiguration other",
        "-ClusterLoadAssignment other",
        "-Cluster other",
      ].filter((x) => !x.endsWith("other") || (!x.includes("Listener") && !x.includes("Route"))),
    );
    expect(source.tracked.has("A other.svc.")).toBe(false);
    expect(() => p.setClusters([svc(), svc()])).toThrow(
      expect.objectContaining({ code: "ERR_ENDPOINTS_DUPLICATE_CLUSTER" }),
    );
  });

  it("follows SRV targets: tracks their addresses, maps priorities, untracks dropped targets", async () => {
    const { clock, source, publisher, p } = setup();
    const spec = svc({ ipFamily: "V4_ONLY", sources: [srvSource("_grpc._tcp.svc")] });
    source.set(
      srv("_grpc._tcp.svc", [
        { priority: 5, weight: 10, port: 7000, target: "h1.svc", v4: ["10.0.0.1"] },
        { priority: 9, weight: 20, port: 7000, target: "h2.svc", v4: ["10.0.0.2"] },
      ]),
    );
    source.set(a("h1.svc", "10.0.0.1"));
    source.set(a("h2.svc", "10.0.0.2"));
    p.setClusters([spec]);
    await clock.advance(200);
    expect([...source.tracked].sort()).toEqual(["A h1.svc.", "A h2.svc.", "SRV _grpc._tcp.svc."]);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:7000 UNKNOWN", "1 10.0.0.2:7000 UNKNOWN"]);
    // A target's address changes without the SRV record changing.
    source.push({ ...a("h2.svc", "10.0.0.22"), resolvedAt: T0 + 1 });
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toEqual([
      "0 10.0.0.1:7000 UNKNOWN",
      "1 10.0.0.2:7000 DRAINING",
      "1 10.0.0.22:7000 UNKNOWN",
    ]);
    source.push({
      ...srv("_grpc._tcp.svc", [{ priority: 5, weight: 10, port: 7000, target: "h1.svc", v4: ["10.0.0.1"] }]),
      resolvedAt: T0 + 2,
    });
    await clock.advance(200);
    expect(source.tracked.has("A h2.svc.")).toBe(false);
  });

  it("publishes zone variants keyed by zone, each valid", async () => {
    const { clock, source, publisher, p } = setup();
    source.set(a("a.svc", "10.0.1.1"));
    source.set(a("b.svc", "10.0.2.1"));
    p.setClusters([
      svc({
        ipFamily: "V4_ONLY",
        zoneAware: true,
        sources: [
          dnsSource("a.svc", 80, { locality: loc("za") }),
          dnsSource("b.svc", 80, { locality: loc("zb") }),
        ],
      }),
    ]);
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.1.1:80 UNKNOWN", "0 10.0.2.1:80 UNKNOWN"]);
    expect(rows(publisher.lastCla("svc", "za"))).toEqual(["0 10.0.1.1:80 UNKNOWN", "1 10.0.2.1:80 UNKNOWN"]);
    expect(rows(publisher.lastCla("svc", "zb"))).toEqual(["0 10.0.2.1:80 UNKNOWN", "1 10.0.1.1:80 UNKNOWN"]);
    for (const z of ["za", "zb"]) {
      const v = publisher.lastCla("svc", z);
      expect(v && validateCla(v)).toEqual([]);
    }
  });

  it("shares one tracked name between selector clusters and splits endpoints by TXT/config metadata", async () => {
    const { clock, source, publisher, p } = setup();
    source.set(a("mixed.svc", "10.0.0.1"));
    source.set(answer("mixed.svc", "TXT", txtRecs("version=v2")));
    source.set(a("old.svc", "10.0.0.9"));
    const sources = [
      dnsSource("mixed.svc", 80, { txtMetadata: true }),
      dnsSource("old.svc", 80, { metadata: { version: "v1" } }),
    ];
    p.setClusters([
      svc({ name: "v1", ipFamily: "V4_ONLY", sources, selector: { version: "v1" } }),
      svc({ name: "v2", ipFamily: "V4_ONLY", sources, selector: { version: "v2" } }),
    ]);
    await clock.advance(200);
    expect(source.log.filter((l) => l === "track A mixed.svc.")).toHaveLength(1);
    expect(rows(publisher.lastCla("v1"))).toEqual(["0 10.0.0.9:80 UNKNOWN"]);
    expect(rows(publisher.lastCla("v2"))).toEqual(["0 10.0.0.1:80 UNKNOWN"]);
  });

  it("retries a failed publish with backoff and reports it", async () => {
    const { clock, source, publisher, errors, p } = setup();
    source.set(a("svc.example.com", "10.0.0.1"));
    source.set(aaaa("svc.example.com"));
    publisher.failNext = 2;
    p.setClusters([svc()]);
    await clock.advance(100);
    expect(errors).toEqual(["publish svc: store down"]);
    await clock.advance(200); // first retry after 2 × debounce
    expect(errors).toHaveLength(2);
    expect(publisher.batches).toHaveLength(0);
    await clock.advance(400); // second retry after 4 × debounce
    expect(publisher.summary()).toEqual([["Cluster svc", "ClusterLoadAssignment svc"]]);
    expect(p.snapshot()[0]?.ready).toBe(true);
  });

  it("a cluster the store refuses does not hold back the others", async () => {
    const { clock, source, publisher, errors, p } = setup();
    source.set(a("one.svc", "10.0.1.1"));
    source.set(a("two.svc", "10.0.2.1"));
    const inner = publisher.publish.bind(publisher);
    publisher.publish = (b) => {
      if (b.upsert?.some((u) => u.name === "two")) throw new Error("refused two");
      inner(b);
    };
    p.setClusters([
      svc({ name: "one", ipFamily: "V4_ONLY", sources: [dnsSource("one.svc", 80)] }),
      svc({ name: "two", ipFamily: "V4_ONLY", sources: [dnsSource("two.svc", 80)] }),
    ]);
    await clock.advance(100);
    expect(publisher.summary()).toEqual([["Cluster one", "ClusterLoadAssignment one"]]);
    expect(errors).toEqual(["publish one,two: refused two", "publish two: refused two"]);
    expect(p.snapshot().map((c) => [c.name, c.ready])).toEqual([
      ["one", true],
      ["two", false],
    ]);
  });

  it("snapshots each endpoint with health, priority, locality, source and TTL left", async () => {
    const { clock, source, p } = setup();
    source.set(a("svc.example.com", "10.0.0.1"));
    source.set(aaaa("svc.example.com", "fd00::1"));
    p.setClusters([svc({ sources: [dnsSource("svc.example.com", 8080, { locality: loc("z9", "r9") })] })]);
    await clock.advance(10_000);
    const snap = p.snapshot();
    expect(snap).toHaveLength(1);
    expect(snap[0]?.ready).toBe(true);
    expect(snap[0]?.endpoints).toEqual([
      expect.objectContaining({
        address: "10.0.0.1",
        port: 8080,
        priority: 0,
        health: "UNKNOWN",
        source: "dns:svc.example.com.",
        ttlLeftMs: 20_000,
        locality: { region: "r9", zone: "z9", subZone: "" },
      }),
      expect.objectContaining({ address: "fd00::1", priority: 1 }),
    ]);
  });

  it("shows the TTL left of the answer the source holds now, even when a refresh changed nothing", async () => {
    const { clock, source, p } = setup();
    source.set(a("svc.example.com", "10.0.0.1"));
    p.setClusters([svc({ ipFamily: "V4_ONLY", sources: [dnsSource("svc.example.com", 8080)] })]);
    await clock.advance(40_000);
    // The first answer has expired; the cache refreshed it with the same records (no update fired).
    expect(p.snapshot()[0]?.endpoints[0]?.ttlLeftMs).toBe(0);
    source.expiries.set(lookupKey("svc.example.com", "A"), clock.now() + 25_000);
    expect(p.snapshot()[0]?.endpoints[0]?.ttlLeftMs).toBe(25_000);
  });

  it("happy eyeballs: /clusters lists a dual-stack host once, its other family as an additional address", async () => {
    const { clock, source, p } = setup();
    source.set(a("svc.example.com", "10.0.0.1"));
    source.set(aaaa("svc.example.com", "fd00::1"));
    p.setClusters([svc({ ipFamily: "V6_PREFERRED", happyEyeballs: true })]);
    await clock.advance(100);
    const eps = p.snapshot()[0]?.endpoints ?? [];
    expect(eps.map((e) => [e.address, e.additionalAddresses])).toEqual([["fd00::1", ["10.0.0.1:8080"]]]);
  });
});
