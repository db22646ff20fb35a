/**
 * The store refuses an assignment that lists one address twice (clients NACK it). Uniqueness is proven
 * without a set when the addresses come in the builder's order; these cases hold the check to the same
 * answer in every order, frozen or not, and across locality entries and additional addresses.
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import type { ClusterLoadAssignment } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { XdsError } from "../../src/xds/errors.js";
import { clusterLoadAssignment } from "../../src/xds/resource-builders.js";
import { EndpointResourceType } from "../../src/xds/resource-types/endpoint.js";
import { deepFreeze } from "../support/deep-freeze.js";
import { seeded } from "../support/property-seed.js";

const eds = new EndpointResourceType();

type Ep = { address: string; port: number };

/** The reason validate gives, or undefined when it accepts. */
function verdict(cla: ClusterLoadAssignment): string | undefined {
  try {
    eds.validate("c", cla);
    return undefined;
  } catch (e) {
    expect(e).toBeInstanceOf(XdsError);
    return (e as Error).message;
  }
}

const one = (eps: Ep[]) => clusterLoadAssignment("c", [{ zone: "z", endpoints: eps }]);

describe("EDS validation: every address once", () => {
  it.each([
    ["adjacent, in order", ["10.0.0.1", "10.0.0.1"], "lb_endpoints[1]"],
    ["apart, out of order", ["10.0.0.2", "10.0.0.1", "10.0.0.3", "10.0.0.1"], "lb_endpoints[3]"],
    ["one address a prefix of the next", ["127.0.0.1", "127.0.0.10", "127.0.0.10"], "lb_endpoints[2]"],
  ])("refuses a repeated address (%s), naming its second place", (_, addrs, field) => {
    const cla = one(addrs.map((address) => ({ address, port: 80 })));
    for (const c of [cla, deepFreeze(one(addrs.map((address) => ({ address, port: 80 }))))]) {
      const why = verdict(c);
      expect(why).toContain("duplicate address");
      expect(why).toContain(field);
    }
  });

  it("accepts one address on ports that sort differently as text and as numbers (9 before 10)", () => {
    expect(
      verdict(one([9, 10, 80, 443, 8080].map((port) => ({ address: "10.0.0.1", port })))),
    ).toBeUndefined();
  });

  it("refuses an address repeated in another locality entry, though each entry is in order", () => {
    const cla = clusterLoadAssignment("c", [
      {
        zone: "a",
        endpoints: [
          { address: "10.0.0.1", port: 80 },
          { address: "10.0.0.2", port: 80 },
        ],
      },
      {
        zone: "b",
        endpoints: [
          { address: "10.0.0.2", port: 80 },
          { address: "10.0.0.3", port: 80 },
        ],
      },
    ]);
    expect(verdict(cla)).toMatch(/endpoints\[1\]\.lb_endpoints\[0\].*duplicate address 10\.0\.0\.2:80/);
  });

  it("refuses an additional address that another endpoint lists as its own", () => {
    const cla = one([
      { address: "10.0.0.1", port: 80 },
      { address: "10.0.0.2", port: 80 },
    ]);
    const lb = cla.endpoints[0]?.lbEndpoints[0];
    if (lb?.hostIdentifier.case !== "endpoint") throw new Error("fixture");
    const other = cla.endpoints[0]?.lbEndpoints[1];
    if (other?.hostIdentifier.case !== "endpoint") throw new Error("fixture");
    const shared = other.hostIdentifier.value.address;
    lb.hostIdentifier.value.additionalAddresses = [
      { $typeName: "envoy.config.endpoint.v3.Endpoint.AdditionalAddress", address: shared },
    ];
    expect(verdict(cla)).toContain("duplicate address 10.0.0.2:80");
  });

  it("gives the same verdict as a plain set for any list, sorted or not, frozen or not", () => {
    // Few addresses and ports, some prefixes of others, so repeats and near-misses are common.
    const ep = fc.record({
      address: fc.constantFrom(
        "127.0.0.1",
        "127.0.0.10",
        "127.0.0.100",
        "10.1.2.3",
        "::1",
        "fd00::1",
        "fd00::10",
      ),
      port: fc.constantFrom(1, 9, 10, 80, 443, 8080, 65535),
    });
    const order = (a: Ep, b: Ep) =>
      (a.address < b.address ? -1 : a.address > b.address ? 1 : 0) || a.port - b.port;
    fc.assert(
      fc.property(fc.array(ep, { maxLength: 12 }), fc.boolean(), fc.boolean(), (eps, sorted, frozen) => {
        const list = sorted ? [...eps].sort(order) : eps;
        const unique = new Set(list.map((e) => `${e.address}|${e.port}`)).size === list.length;
        const cla = one(list);
        // Twice: the second time from what the first remembered about frozen endpoints.
        for (let i = 0; i < 2; i++) {
          const why = verdict(frozen ? deepFreeze(cla) : cla);
          expect(why === undefined).toBe(unique);
        }
      }),
      seeded({ seed: 15007, runs: 500, label: "eds address uniqueness" }),
    );
  });
});
