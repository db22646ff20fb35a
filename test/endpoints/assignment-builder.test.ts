import { create, equals, fromBinary, toBinary, toJson } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { buildAssignment, buildAssignmentFromAnswers } from "../../src/endpoints/assignment-builder.js";
import type { SourceResolution } from "../../src/endpoints/endpoint-candidates.js";
import { extractCandidates } from "../../src/endpoints/endpoint-candidates.js";
import { SocketAddressSchema } from "../../src/gen/envoy/config/core/v3/address_pb.js";
import { HealthStatus } from "../../src/gen/envoy/config/core/v3/health_check_pb.js";
import { EndpointSchema } from "../../src/gen/envoy/config/endpoint/v3/endpoint_components_pb.js";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignmentSchema,
} from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import type { EndpointHealth } from "../../src/health/types.js";
import { healthCheckSpec } from "../support/health-check-spec.js";
import { grpcJsXdsErrors, validateCla } from "./cla-validator.js";
import {
  a,
  aaaa,
  answer,
  cluster,
  dnsSource,
  loc,
  srv,
  srvSource,
  staticSource,
  txtRecs,
} from "./fixtures.js";

const hc = healthCheckSpec();

interface FlatEp {
  p: number;
  zone: string;
  lw: number | undefined;
  addr: string;
  extra?: string;
  health: string;
  w: number | undefined;
  md?: unknown;
}

/** Flattens an assignment into rows a test can compare, after checking it is acceptable to clients. */
function flat(cla: ClusterLoadAssignment): FlatEp[] {
  expect(validateCla(cla)).toEqual([]);
  expect(grpcJsXdsErrors(cla)).toBeUndefined();
  const rows: FlatEp[] = [];
  for (const le of cla.endpoints) {
    for (const lb of le.lbEndpoints) {
      if (lb.hostIdentifier.case !== "endpoint") throw new Error("no endpoint");
      const ep = lb.hostIdentifier.value;
      const fmt = (ad: typeof ep.address) =>
        ad?.address.case === "socketAddress"
          ? `${ad.address.value.address}:${ad.address.value.portSpecifier.value}`
          : "?";
      const row: FlatEp = {
        p: le.priority,
        zone: le.locality?.zone ?? "",
        lw: le.loadBalancingWeight,
        addr: fmt(ep.address),
        health: HealthStatus[lb.healthStatus],
        w: lb.loadBalancingWeight,
      };
      const first = ep.additionalAddresses[0];
      if (first) row.extra = fmt(first.address);
      if (lb.metadata) row.md = lb.metadata.filterMetadata["envoy.lb"];
      rows.push(row);
    }
  }
  return rows;
}

const addrs = (cla: ClusterLoadAssignment) => flat(cla).map((r) => `${r.p} ${r.addr}`);

describe("assignment builder", () => {
  it("turns A records into one weighted locality at priority 0, named after the cluster", () => {
    const spec = cluster();
    const cla = buildAssignmentFromAnswers(spec, [{ a: a("svc.example.com", "10.0.0.2", "10.0.0.1") }]);
    expect(cla.clusterName).toBe("svc");
    expect(cla.policy?.overprovisioningFactor).toBe(140);
    expect(flat(cla)).toEqual([
      { p: 0, zone: "z1", lw: 1, addr: "10.0.0.1:8080", health: "UNKNOWN", w: 1 },
      { p: 0, zone: "z1", lw: 1, addr: "10.0.0.2:8080", health: "UNKNOWN", w: 1 },
    ]);
    const ep = cla.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
    expect(ep?.case === "endpoint" && ep.value.hostname).toBe("svc.example.com");
  });

  it("leaves Endpoint.hostname out with endpointHostname: false, and follows the setting when it changes", () => {
    const hostnames = (cla: ClusterLoadAssignment) =>
      cla.endpoints.flatMap((l) =>
        l.lbEndpoints.map((lb) =>
          lb.hostIdentifier.case === "endpoint" ? lb.hostIdentifier.value.hostname : "?",
        ),
      );
    // The same candidate objects for every build, as a running pipeline hands them over for an unchanged
    // answer: each build reuses the LbEndpoints of the last unless the setting changed.
    const candidates = extractCandidates(cluster(), [{ a: a("svc.example.com", "10.0.0.2", "10.0.0.1") }]);
    const build = (endpointHostname: boolean | undefined) =>
      buildAssignment({
        spec: cluster(endpointHostname === undefined ? {} : { endpointHostname }),
        candidates,
      });
    expect(hostnames(build(undefined))).toEqual(["svc.example.com", "svc.example.com"]);
    const bare = build(false);
    expect(hostnames(bare)).toEqual(["", ""]);
    // Nothing else differs, and the encoded endpoint carries no hostname field at all.
    expect(flat(bare)).toEqual(flat(build(true)));
    const endpoint = bare.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
    const bytes = toBinary(
      EndpointSchema,
      endpoint?.case === "endpoint" ? endpoint.value : create(EndpointSchema),
    );
    expect(Buffer.from(bytes).includes(Buffer.from("svc.example.com"))).toBe(false);
    expect(hostnames(build(true))).toEqual(["svc.example.com", "svc.example.com"]);
  });

  it("keeps addresses unique across the cluster when two sources resolve to the same IP and port", () => {
    const spec = cluster({
      sources: [
        dnsSource("a.example", 80),
        dnsSource("b.example", 80, { locality: loc("z2") }),
        staticSource([{ address: "10.0.0.1", port: 80 }]),
      ],
    });
    const cla = buildAssignmentFromAnswers(spec, [
      { a: a("a.example", "10.0.0.1") },
      { a: a("b.example", "10.0.0.1", "10.0.0.2") },
    ]);
    expect(flat(cla).map((r) => `${r.zone} ${r.addr}`)).toEqual(["z1 10.0.0.1:80", "z2 10.0.0.2:80"]);
  });

  it("drops non-IP addresses and bad ports", () => {
    const spec = cluster({
      sources: [
        staticSource([
          { address: "host.example", port: 80 },
          { address: "10.0.0.1", port: 0 },
          { address: "10.0.0.3", port: 80 },
        ]),
      ],
    });
    expect(addrs(buildAssignmentFromAnswers(spec, []))).toEqual(["0 10.0.0.3:80"]);
  });

  describe("IP family policy", () => {
    const res: SourceResolution[] = [
      { a: a("svc.example.com", "10.0.0.1"), aaaa: aaaa("svc.example.com", "fd00::1") },
    ];
    const build = (ipFamily: "V4_ONLY" | "V6_ONLY" | "V4_PREFERRED" | "V6_PREFERRED" | "ALL") =>
      addrs(buildAssignmentFromAnswers(cluster({ ipFamily }), res));
    it("V4_ONLY never lists IPv6", () => expect(build("V4_ONLY")).toEqual(["0 10.0.0.1:8080"]));
    it("V6_ONLY never lists IPv4", () => expect(build("V6_ONLY")).toEqual(["0 fd00::1:8080"]));
    it("V4_PREFERRED puts IPv4 first, IPv6 at the next priority", () =>
      expect(build("V4_PREFERRED")).toEqual(["0 10.0.0.1:8080", "1 fd00::1:8080"]));
    it("V6_PREFERRED puts IPv6 first", () =>
      expect(build("V6_PREFERRED")).toEqual(["0 fd00::1:8080", "1 10.0.0.1:8080"]));
    it("ALL puts both in one priority", () =>
      expect(build("ALL")).toEqual(["0 10.0.0.1:8080", "0 fd00::1:8080"]));
    it("a preferred family that is absent leaves the other at priority 0", () => {
      const cla = buildAssignmentFromAnswers(cluster({ ipFamily: "V4_PREFERRED" }), [
        { aaaa: aaaa("svc.example.com", "fd00::1") },
      ]);
      expect(addrs(cla)).toEqual(["0 fd00::1:8080"]);
    });
  });

  describe("happy eyeballs", () => {
    it("publishes a dual-stack name as one endpoint per pair with the other family as additional address", () => {
      const spec = cluster({ ipFamily: "V6_PREFERRED", happyEyeballs: true });
      const cla = buildAssignmentFromAnswers(spec, [
        { a: a("svc.example.com", "10.0.0.1", "10.0.0.2"), aaaa: aaaa("svc.example.com", "fd00::1") },
      ]);
      expect(flat(cla).map((r) => [r.p, r.addr, r.extra])).toEqual([
        [0, "fd00::1:8080", "10.0.0.1:8080"],
        [1, "10.0.0.2:8080", undefined],
      ]);
    });
    it("orders by preference and pairs SRV targets by target", () => {
      const spec = cluster({
        ipFamily: "V4_PREFERRED",
        happyEyeballs: true,
        sources: [srvSource("_grpc._tcp.svc")],
      });
      const cla = buildAssignmentFromAnswers(spec, [
        {
          srv: srv("_grpc._tcp.svc", [
            { priority: 0, weight: 5, port: 9000, target: "h1.svc", v4: ["10.0.0.1"], v6: ["fd00::1"] },
            { priority: 0, weight: 5, port: 9000, target: "h2.svc", v4: ["10.0.0.2"], v6: ["fd00::2"] },
          ]),
        },
      ]);
      expect(flat(cla).map((r) => [r.p, r.addr, r.extra, r.w])).toEqual([
        [0, "10.0.0.1:9000", "fd00::1:9000", 5],
        [0, "10.0.0.2:9000", "fd00::2:9000", 5],
      ]);
    });
  });

  describe("SRV", () => {
    it("renumbers SRV priorities contiguously from 0 and uses SRV weight as endpoint weight (0 → 1)", () => {
      const spec = cluster({ sources: [srvSource("_x._tcp.svc")] });
      const cla = buildAssignmentFromAnswers(spec, [
        {
          srv: srv("_x._tcp.svc", [
            { priority: 10, weight: 60, port: 7001, target: "a.svc", v4: ["10.0.0.1"] },
            { priority: 10, weight: 0, port: 7002, target: "b.svc", v4: ["10.0.0.2"] },
            { priority: 30, weight: 5, port: 7003, target: "c.svc", v4: ["10.0.0.3"] },
            { priority: 40, weight: 5, port: 7004, target: ".", v4: [] },
          ]),
        },
      ]);
      expect(flat(cla).map((r) => [r.p, r.addr, r.w])).toEqual([
        [0, "10.0.0.1:7001", 60],
        [0, "10.0.0.2:7002", 1],
        [1, "10.0.0.3:7003", 5],
      ]);
    });
    it("clamps more than 129 distinct priorities at 128 and still merges (locality, priority) into one entry", () => {
      const entries = Array.from({ length: 200 }, (_, i) => ({
        priority: i,
        weight: 1,
        port: 1000 + i,
        target: `t${i}.svc`,
        v4: [`10.0.${i >> 8}.${i & 255}`],
      }));
      const cla = buildAssignmentFromAnswers(cluster({ sources: [srvSource("_x._tcp.svc")] }), [
        { srv: srv("_x._tcp.svc", entries) },
      ]);
      const rows = flat(cla);
      expect(rows).toHaveLength(200);
      expect(Math.max(...cla.endpoints.map((e) => e.priority))).toBe(128);
      expect(cla.endpoints).toHaveLength(129);
    });
  });

  describe("zone awareness", () => {
    const spec = cluster({
      zoneAware: true,
      sources: [
        dnsSource("a.svc", 80, { locality: loc("za") }),
        dnsSource("b.svc", 80, { locality: loc("zb"), weight: 3 }),
      ],
    });
    const res: SourceResolution[] = [{ a: a("a.svc", "10.0.0.1") }, { a: a("b.svc", "10.0.1.1") }];
    it("puts the client's zone at priority 0 and the rest after", () => {
      const rows = flat(buildAssignmentFromAnswers(spec, res, { clientZone: { region: "r1", zone: "zb" } }));
      expect(rows.map((r) => [r.p, r.zone, r.lw])).toEqual([
        [0, "zb", 3],
        [1, "za", 1],
      ]);
    });
    it("without a client zone (or for a zone no locality has) everything is priority 0", () => {
      expect(flat(buildAssignmentFromAnswers(spec, res)).map((r) => r.p)).toEqual([0, 0]);
      const other = flat(buildAssignmentFromAnswers(spec, res, { clientZone: { region: "r1", zone: "zc" } }));
      expect(other.map((r) => r.p)).toEqual([0, 0]);
    });
    it("does nothing when the cluster is not zone aware", () => {
      const rows = flat(
        buildAssignmentFromAnswers({ ...spec, zoneAware: false }, res, {
          clientZone: { region: "r1", zone: "zb" },
        }),
      );
      expect(rows.map((r) => r.p)).toEqual([0, 0]);
    });
    it("combines with family preference: zone first, family second", () => {
      const dual: SourceResolution[] = [
        { a: a("a.svc", "10.0.0.1"), aaaa: aaaa("a.svc", "fd00::1") },
        { a: a("b.svc", "10.0.1.1"), aaaa: aaaa("b.svc", "fd00::2") },
      ];
      const rows = flat(buildAssignmentFromAnswers(spec, dual, { clientZone: { region: "", zone: "za" } }));
      expect(rows.map((r) => `${r.p} ${r.zone} ${r.addr}`)).toEqual([
        "0 za 10.0.0.1:80",
        "1 za fd00::1:80",
        "2 zb 10.0.1.1:80",
        "3 zb fd00::2:80",
      ]);
    });
  });

  describe("metadata and selector", () => {
    const spec = cluster({
      sources: [
        dnsSource("v1.svc", 80, { metadata: { version: "v1" } }),
        dnsSource("v2.svc", 80, { metadata: { version: "v2", canary: "true" }, txtMetadata: true }),
      ],
    });
    const res: SourceResolution[] = [
      { a: a("v1.svc", "10.0.0.1") },
      {
        a: a("v2.svc", "10.0.0.2"),
        txt: answer("v2.svc", "TXT", txtRecs("team=payments", "canary=false", "junk")),
      },
    ];
    it("puts config and TXT metadata under envoy.lb, config winning over TXT", () => {
      const rows = flat(buildAssignmentFromAnswers(spec, res));
      expect(rows.map((r) => r.md)).toEqual([
        { version: "v1" },
        { version: "v2", canary: "true", team: "payments" },
      ]);
    });
    it("ignores TXT unless the source asks for it", () => {
      const off = { ...spec, sources: spec.sources.map((s) => ({ ...s, txtMetadata: false })) };
      expect(flat(buildAssignmentFromAnswers(off, res))[1]?.md).toEqual({ version: "v2", canary: "true" });
    });
    it("a selector keeps only matching endpoints", () => {
      const rows = flat(buildAssignmentFromAnswers({ ...spec, selector: { version: "v2" } }, res));
      expect(rows.map((r) => r.addr)).toEqual(["10.0.0.2:80"]);
      expect(flat(buildAssignmentFromAnswers({ ...spec, selector: { version: "v3" } }, res))).toEqual([]);
    });
  });

  describe("health and drain", () => {
    const spec = cluster({ healthCheck: hc });
    const res: SourceResolution[] = [{ a: a("svc.example.com", "10.0.0.1", "10.0.0.2", "10.0.0.3") }];
    const health = new Map<string, EndpointHealth>([
      ["10.0.0.1|8080", "HEALTHY"],
      ["10.0.0.2|8080", "UNHEALTHY"],
    ]);
    it("reports HEALTHY / UNHEALTHY / UNKNOWN and keeps unhealthy endpoints listed", () => {
      const rows = flat(buildAssignmentFromAnswers(spec, res, { health: (k) => health.get(k) }));
      expect(rows.map((r) => r.health)).toEqual(["HEALTHY", "UNHEALTHY", "UNKNOWN"]);
    });
    it("lists every endpoint when all fail", () => {
      const rows = flat(buildAssignmentFromAnswers(spec, res, { health: () => "UNHEALTHY" }));
      expect(rows.map((r) => r.health)).toEqual(["UNHEALTHY", "UNHEALTHY", "UNHEALTHY"]);
    });
    it("ignores the health store when the cluster has no health check", () => {
      const rows = flat(buildAssignmentFromAnswers(cluster(), res, { health: () => "UNHEALTHY" }));
      expect(rows.map((r) => r.health)).toEqual(["UNKNOWN", "UNKNOWN", "UNKNOWN"]);
    });
    it("lists endpoints that left DNS as DRAINING, unless DNS lists them again", () => {
      const old = extractCandidates(spec, [{ a: a("svc.example.com", "10.0.0.3", "10.0.0.9") }]);
      const cla = buildAssignment({
        spec,
        candidates: extractCandidates(spec, res),
        draining: old,
        health: (k) => health.get(k),
      });
      expect(flat(cla).map((r) => `${r.addr} ${r.health}`)).toEqual([
        "10.0.0.1:8080 HEALTHY",
        "10.0.0.2:8080 UNHEALTHY",
        "10.0.0.3:8080 UNKNOWN",
        "10.0.0.9:8080 DRAINING",
      ]);
    });
  });

  it("is deterministic: shuffled input gives identical bytes", () => {
    const spec = cluster({
      sources: [dnsSource("a.svc", 80), dnsSource("b.svc", 80, { locality: loc("z2") })],
    });
    const r1: SourceResolution[] = [
      { a: a("a.svc", "10.0.0.3", "10.0.0.1", "10.0.0.2") },
      { a: a("b.svc", "10.0.1.2", "10.0.1.1") },
    ];
    const r2: SourceResolution[] = [
      { a: a("a.svc", "10.0.0.2", "10.0.0.3", "10.0.0.1") },
      { a: a("b.svc", "10.0.1.1", "10.0.1.2") },
    ];
    const bytes = (r: SourceResolution[]) =>
      Buffer.from(toBinary(ClusterLoadAssignmentSchema, buildAssignmentFromAnswers(spec, r)));
    expect(bytes(r1).equals(bytes(r2))).toBe(true);
  });

  it("keeps locality weight sums within uint32", () => {
    const spec = cluster({
      sources: [
        dnsSource("a.svc", 80, { weight: 0xffff_ffff }),
        dnsSource("b.svc", 80, { weight: 0xffff_fff0, locality: loc("z2") }),
      ],
    });
    const rows = flat(
      buildAssignmentFromAnswers(spec, [{ a: a("a.svc", "10.0.0.1") }, { a: a("b.svc", "10.0.0.2") }]),
    );
    expect((rows[0]?.lw ?? 0) + (rows[1]?.lw ?? 0)).toBeLessThanOrEqual(0xffff_ffff);
  });

  it("builds complete messages: equal to their own decode, and to the same content made by create()", () => {
    const spec = cluster({
      ipFamily: "V6_PREFERRED",
      happyEyeballs: true,
      sources: [dnsSource("svc.example.com", 8080, { metadata: { v: "1" } })],
    });
    const cla = buildAssignmentFromAnswers(spec, [
      { a: a("svc.example.com", "10.0.0.1"), aaaa: aaaa("svc.example.com", "fd00::1") },
    ]);
    expect(
      equals(
        ClusterLoadAssignmentSchema,
        fromBinary(ClusterLoadAssignmentSchema, toBinary(ClusterLoadAssignmentSchema, cla)),
        cla,
      ),
    ).toBe(true);
    const viaCreate = create(ClusterLoadAssignmentSchema, toJson(ClusterLoadAssignmentSchema, cla) as never);
    expect(Object.keys(viaCreate.endpoints[0]?.lbEndpoints[0] ?? {}).sort()).toEqual(
      Object.keys(cla.endpoints[0]?.lbEndpoints[0] ?? {}).sort(),
    );
    const ep = (m: ClusterLoadAssignment) => {
      const h = m.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
      return h?.case === "endpoint" ? h.value : undefined;
    };
    const fresh = create(EndpointSchema);
    expect(Object.keys(ep(cla) ?? {}).sort()).toEqual([...Object.keys(fresh), "address"].sort());
    const sa = ep(cla)?.address?.address;
    expect(Object.keys(sa?.value ?? {}).sort()).toEqual(
      Object.keys(create(SocketAddressSchema))
        .concat(["portSpecifier"])
        .filter((k, i, arr) => arr.indexOf(k) === i)
        .sort(),
    );
  });

  it("an empty answer gives an empty (valid) assignment", () => {
    expect(flat(buildAssignmentFromAnswers(cluster(), [{ a: a("svc.example.com") }]))).toEqual([]);
  });
});
