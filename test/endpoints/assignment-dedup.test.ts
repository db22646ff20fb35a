/**
 * Which candidate an endpoint key goes to, and the order endpoints are listed in: the builder dedups by
 * sorting (address, port, then dedup order) and merging current with draining, not with a set of keys.
 * Checked against a plain reference of the rule it must keep: per key, the current candidate first in
 * (source, SRV priority, heavier weight) order wins, ties to the earlier one listed; a draining one only
 * when no current one has the key; each locality's endpoints in address-then-port order.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildAssignment } from "../../src/endpoints/assignment-builder.js";
import type { EndpointCandidate } from "../../src/endpoints/endpoint-candidates.js";
import { HealthStatus } from "../../src/gen/envoy/config/core/v3/health_check_pb.js";
import type { ClusterLoadAssignment } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { seeded } from "../support/property-seed.js";
import { cluster, dnsSource, loc } from "./fixtures.js";

const ZONES = ["za", "zb", "zc"];
const spec = cluster({
  ipFamily: "V4_ONLY",
  drainMs: 0,
  // Each source its own zone, so where a key went shows as its locality.
  sources: ZONES.map((z, i) => dnsSource(`n${i}.svc`, 80, { locality: loc(z) })),
});

function candidate(
  address: string,
  port: number,
  sourceIndex: number,
  srvPriority: number,
  weight: number,
): EndpointCandidate {
  return {
    key: `${address}|${port}`,
    sourceIndex,
    host: `n${sourceIndex}.svc.`,
    address,
    port,
    family: 4,
    srvPriority,
    weight,
    metadata: {},
  };
}

/** [zone, priority, address, port, weight, health] of every listed endpoint, in listing order. */
function listed(cla: ClusterLoadAssignment): Array<[string, number, string, number, number, HealthStatus]> {
  const out: Array<[string, number, string, number, number, HealthStatus]> = [];
  for (const le of cla.endpoints)
    for (const lb of le.lbEndpoints) {
      if (lb.hostIdentifier.case !== "endpoint") throw new Error("not an endpoint");
      const sa = lb.hostIdentifier.value.address?.address;
      if (sa?.case !== "socketAddress") throw new Error("not a socket address");
      out.push([
        le.locality?.zone ?? "",
        le.priority,
        sa.value.address,
        Number(sa.value.portSpecifier.value),
        lb.loadBalancingWeight ?? 0,
        lb.healthStatus,
      ]);
    }
  return out;
}

/** The rule, stated plainly: a set of keys over stably sorted lists, then a full sort of the result. */
function reference(
  current: readonly EndpointCandidate[],
  draining: readonly EndpointCandidate[],
): Array<[string, number, string, number, number, HealthStatus]> {
  const order = (x: EndpointCandidate, y: EndpointCandidate) =>
    x.sourceIndex - y.sourceIndex || x.srvPriority - y.srvPriority || y.weight - x.weight;
  const won = new Map<string, { c: EndpointCandidate; draining: boolean }>();
  for (const c of [...current].sort(order)) if (!won.has(c.key)) won.set(c.key, { c, draining: false });
  for (const c of [...draining].sort(order)) if (!won.has(c.key)) won.set(c.key, { c, draining: true });
  const tiers = [...new Set([...won.values()].map((w) => w.c.srvPriority))].sort((a, b) => a - b);
  const rows = [...won.values()].map(
    ({ c, draining: d }): [string, number, string, number, number, HealthStatus] => [
      ZONES[c.sourceIndex] as string,
      tiers.indexOf(c.srvPriority),
      c.address,
      c.port,
      c.weight,
      d ? HealthStatus.DRAINING : HealthStatus.UNKNOWN,
    ],
  );
  const cmp = (a: string, b: string) => (a < b ? -1 : a > b ? 1 : 0);
  return rows.sort((a, b) => a[1] - b[1] || cmp(a[0], b[0]) || cmp(a[2], b[2]) || a[3] - b[3]);
}

// Few addresses and ports, so keys repeat within and across sources and between current and draining;
// "10.0.0.1" and "10.0.0.10", ports 9 and 10: string and numeric order differ.
const arbCandidate = fc
  .record({
    address: fc.constantFrom("10.0.0.1", "10.0.0.10", "10.0.0.2", "127.0.0.1", "9.9.9.9"),
    port: fc.constantFrom(9, 10, 80),
    sourceIndex: fc.integer({ min: 0, max: 2 }),
    srvPriority: fc.integer({ min: 0, max: 1 }),
    weight: fc.integer({ min: 1, max: 3 }),
  })
  .map((c) => candidate(c.address, c.port, c.sourceIndex, c.srvPriority, c.weight));

describe("assignment builder: dedup and order", () => {
  it("the current candidate wins over a draining one with the same key", () => {
    const cur = candidate("10.0.0.1", 80, 1, 0, 1);
    const old = candidate("10.0.0.1", 80, 0, 0, 1);
    const cla = buildAssignment({ spec, candidates: [cur], draining: [old] });
    expect(listed(cla)).toEqual([["zb", 0, "10.0.0.1", 80, 1, HealthStatus.UNKNOWN]]);
  });

  it("a key goes to its first source, then lower SRV priority, then heavier weight; ties to the first listed", () => {
    const cla = buildAssignment({
      spec,
      candidates: [
        candidate("10.0.0.1", 80, 2, 0, 5),
        candidate("10.0.0.1", 80, 1, 1, 1),
        candidate("10.0.0.1", 80, 1, 0, 1),
        candidate("10.0.0.2", 80, 0, 0, 1),
        candidate("10.0.0.2", 80, 0, 0, 3),
        candidate("10.0.0.3", 80, 0, 0, 2),
        candidate("10.0.0.3", 80, 0, 0, 2),
      ],
    });
    expect(listed(cla)).toEqual([
      ["za", 0, "10.0.0.2", 80, 3, HealthStatus.UNKNOWN],
      ["za", 0, "10.0.0.3", 80, 2, HealthStatus.UNKNOWN],
      ["zb", 0, "10.0.0.1", 80, 1, HealthStatus.UNKNOWN],
    ]);
  });

  it("lists endpoints by address as a string, then by port as a number", () => {
    const cla = buildAssignment({
      spec,
      candidates: [
        candidate("10.0.0.10", 9, 0, 0, 1),
        candidate("10.0.0.1", 10, 0, 0, 1),
        candidate("10.0.0.1", 9, 0, 0, 1),
        candidate("10.0.0.2", 80, 0, 0, 1),
      ],
    });
    expect(listed(cla).map((r) => `${r[2]}:${r[3]}`)).toEqual([
      "10.0.0.1:9",
      "10.0.0.1:10",
      "10.0.0.10:9",
      "10.0.0.2:80",
    ]);
  });

  it("with happy eyeballs, paired hosts' endpoints are still listed in address order", () => {
    const dual = cluster({ ...spec, ipFamily: "V4_PREFERRED", happyEyeballs: true });
    const host = (c: EndpointCandidate, h: string, family: 4 | 6 = 4): EndpointCandidate => ({
      ...c,
      host: h,
      family,
    });
    const cla = buildAssignment({
      spec: dual,
      candidates: [
        host(candidate("10.0.0.1", 80, 0, 0, 1), "h1."),
        host(candidate("10.0.0.5", 80, 0, 0, 1), "h1."),
        host(candidate("fd00::1", 80, 0, 0, 1), "h1.", 6),
        host(candidate("10.0.0.3", 80, 0, 0, 1), "h2."),
        host(candidate("fd00::2", 80, 0, 0, 1), "h2.", 6),
      ],
    });
    // Pairing groups by host (h1's two, then h2's): the builder must sort them back.
    expect(listed(cla).map((r) => r[2])).toEqual(["10.0.0.1", "10.0.0.3", "10.0.0.5"]);
  });

  it("property: winners and order equal the plain rule's, for any lists", () => {
    fc.assert(
      fc.property(
        fc.array(arbCandidate, { maxLength: 24 }),
        fc.array(arbCandidate, { maxLength: 8 }),
        (current, draining) => {
          expect(listed(buildAssignment({ spec, candidates: current, draining }))).toEqual(
            reference(current, draining),
          );
        },
      ),
      seeded({ seed: 20261202, runs: 500, label: "assignment dedup" }),
    );
  });
});
