import { create, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildAssignmentFromAnswers } from "../../src/endpoints/assignment-builder.js";
import { MetadataSchema } from "../../src/gen/envoy/config/core/v3/base_pb.js";
import {
  EndpointSchema,
  type LbEndpoint,
  LbEndpointSchema,
} from "../../src/gen/envoy/config/endpoint/v3/endpoint_components_pb.js";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignment_PolicySchema,
  ClusterLoadAssignmentSchema,
} from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { encodeClusterLoadAssignment, otherFieldsAtDefault } from "../../src/xds/cla-encoder.js";
import { encodeResource } from "../../src/xds/encoded-resource.js";
import { clusterLoadAssignment } from "../../src/xds/resource-builders.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";
import { a, aaaa, cluster, dnsSource, loc } from "../endpoints/fixtures.js";
import { deepFreeze } from "../support/deep-freeze.js";
import { lbEndpointAt } from "../support/lb-endpoint.js";
import { seeded } from "../support/property-seed.js";

type ClaInit = MessageInitShape<typeof ClusterLoadAssignmentSchema>;

const hex = (b: Uint8Array): string => Buffer.from(b).toString("hex");

/** Our bytes, asserted to exist and to equal toBinary's. */
function expectSameAsToBinary(cla: ClusterLoadAssignment): void {
  const ours = encodeClusterLoadAssignment(cla);
  expect(ours).toBeDefined();
  expect(hex(ours as Uint8Array)).toBe(hex(toBinary(ClusterLoadAssignmentSchema, cla)));
}

// Short ASCII, full Unicode (incl. lone surrogates) and long strings hit every string path.
const anyString = fc.oneof(
  fc.constantFrom("", "r", "zone-a", "envoy.lb", "é", "日本"),
  fc.string({ maxLength: 12 }),
  fc.string({ unit: "binary", maxLength: 12 }),
  fc.string({ unit: "binary", minLength: 60, maxLength: 200 }),
  fc.string({ minLength: 64, maxLength: 300 }),
);
const uint32 = fc.oneof(
  fc.constantFrom(0, 1, 127, 128, 16383, 16384, 0x7fffffff, 0xffffffff),
  fc.nat({ max: 0xffffffff }),
);
const maybe = <T>(arb: fc.Arbitrary<T>) => fc.option(arb, { nil: undefined });

const socket = fc.record({
  protocol: fc.constantFrom(0, 1),
  address: fc.oneof(fc.ipV4(), fc.ipV6(), fc.constant(""), anyString),
  portSpecifier: fc.oneof(
    fc.record({ case: fc.constant("portValue" as const), value: fc.oneof(fc.nat({ max: 65535 }), uint32) }),
    fc.constant({ case: undefined }),
  ),
});
const address = fc.oneof(
  {
    weight: 5,
    arbitrary: fc.record({
      address: fc.record({ case: fc.constant("socketAddress" as const), value: socket }),
    }),
  },
  { weight: 1, arbitrary: fc.constant({}) },
);
const endpoint = fc.record(
  {
    address,
    hostname: anyString,
    additionalAddresses: fc.array(fc.record({ address: maybe(address) }), { maxLength: 2 }),
  },
  { requiredKeys: ["hostname", "additionalAddresses"] },
);
const jsonStrings = fc.dictionary(anyString, anyString, { maxKeys: 3 });
const lbEndpoint = fc.record(
  {
    hostIdentifier: fc.oneof(
      { weight: 8, arbitrary: fc.record({ case: fc.constant("endpoint" as const), value: endpoint }) },
      { weight: 1, arbitrary: fc.constant({ case: undefined }) },
    ),
    healthStatus: fc.constantFrom(0, 1, 2, 3, 4, 5),
    metadata: fc.record({ filterMetadata: fc.dictionary(anyString, jsonStrings, { maxKeys: 3 }) }),
    loadBalancingWeight: uint32,
  },
  { requiredKeys: ["hostIdentifier", "healthStatus"] },
);
const locality = fc.record({ region: anyString, zone: anyString, subZone: anyString });
const lle = fc.record(
  {
    locality,
    lbEndpoints: fc.array(lbEndpoint, { maxLength: 6 }),
    loadBalancingWeight: uint32,
    priority: fc.oneof(fc.nat({ max: 128 }), uint32),
  },
  { requiredKeys: ["lbEndpoints", "priority"] },
);
const policy = fc.record(
  { overprovisioningFactor: uint32, weightedPriorityHealth: fc.boolean() },
  { requiredKeys: ["weightedPriorityHealth"] },
);
const claInit = fc.record(
  { clusterName: anyString, endpoints: fc.array(lle, { maxLength: 5 }), policy },
  { requiredKeys: ["clusterName", "endpoints"] },
);

describe("encodeClusterLoadAssignment", () => {
  it("is byte-identical to toBinary for random assignments", () => {
    fc.assert(
      fc.property(claInit, (init) => {
        expectSameAsToBinary(create(ClusterLoadAssignmentSchema, init as ClaInit));
      }),
      seeded({ seed: 15005, runs: 400, label: "cla encoder" }),
    );
  });

  it("is byte-identical for a 10,000-endpoint assignment from the resource builder", () => {
    const cla = clusterLoadAssignment("big", [
      {
        region: "r",
        zone: "z",
        endpoints: Array.from({ length: 10_000 }, (_, i) => ({
          address: `127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
          port: 1024 + (i % 60000),
          weight: i % 3 === 0 ? undefined : i,
        })),
      },
    ]);
    expectSameAsToBinary(cla);
  });

  it("takes the endpoint builder's output (happy eyeballs, metadata, zones, policy) without falling back", () => {
    const spec = cluster({
      ipFamily: "V6_PREFERRED",
      happyEyeballs: true,
      sources: [
        dnsSource("svc.example.com", 8080, { metadata: { version: "v1", "": "é" }, locality: loc("z1") }),
        dnsSource("b.example.com", 9090, { locality: loc("z2", "r2", "s"), weight: 3 }),
      ],
    });
    const cla = buildAssignmentFromAnswers(spec, [
      { a: a("svc.example.com", "10.0.0.1", "10.0.0.2"), aaaa: aaaa("svc.example.com", "fd00::1") },
      { a: a("b.example.com", "10.0.1.1") },
    ]);
    expect(cla.endpoints.length).toBeGreaterThan(1);
    expect(cla.policy).toBeDefined();
    expectSameAsToBinary(cla);
  });

  it("writes an empty but set message field, as toBinary does", () => {
    expectSameAsToBinary(
      create(ClusterLoadAssignmentSchema, {
        policy: {},
        endpoints: [{ locality: {}, lbEndpoints: [{ metadata: { filterMetadata: { "": {} } } }] }],
      }),
    );
  });
});

type LbInit = MessageInitShape<typeof LbEndpointSchema>;

describe("encodeClusterLoadAssignment with remembered endpoint bodies", () => {
  it("stays byte-identical when frozen endpoints are listed again, in new orders and beside changed ones", () => {
    // A pool of endpoints, some frozen all the way down (remembered after their first encode), some
    // not; every step lists a random selection in a random order, and changes an unfrozen one first.
    const step = fc.record({
      picks: fc.array(fc.nat({ max: 7 }), { maxLength: 8 }),
      mutate: fc.nat({ max: 7 }),
      address: fc.ipV4(),
      port: fc.nat({ max: 65535 }),
    });
    fc.assert(
      fc.property(
        fc.array(lbEndpoint, { minLength: 8, maxLength: 8 }),
        fc.array(step, { maxLength: 6 }),
        (inits, steps) => {
          const pool = inits.map((init, i) => {
            const lb = create(LbEndpointSchema, init as LbInit);
            return i % 2 === 0 ? deepFreeze(lb) : lb;
          });
          for (const s of steps) {
            const target = pool[s.mutate];
            if (target && !Object.isFrozen(target)) {
              target.hostIdentifier = {
                case: "endpoint",
                value: create(EndpointSchema, {
                  address: {
                    address: {
                      case: "socketAddress",
                      value: { address: s.address, portSpecifier: { case: "portValue", value: s.port } },
                    },
                  },
                }),
              };
            }
            const lbEndpoints = s.picks.map((k) => pool[k]).filter((lb) => lb !== undefined);
            expectSameAsToBinary(
              create(ClusterLoadAssignmentSchema, {
                clusterName: "c",
                endpoints: [{ lbEndpoints, priority: 0 }],
              }),
            );
          }
        },
      ),
      seeded({ seed: 15006, runs: 300, label: "cla encoder, remembered bodies" }),
    );
  });

  it("copies runs of endpoints that were neighbours before, across rotations, removals, splits and repeats", () => {
    // 2,000 frozen endpoints; each assignment reuses them in a new arrangement, so runs of the last
    // buffer start and end mid-list, cross locality boundaries and meet endpoints listed twice.
    const pool = Array.from({ length: 2000 }, (_, i) =>
      deepFreeze(lbEndpointAt(`127.0.${i >> 8}.${i & 255}`, 1024 + i, 1 + (i % 5))),
    );
    const arrangements: LbEndpoint[][][] = [
      [pool],
      [[...pool.slice(1), pool[0] as LbEndpoint]], // rotated by one
      [[...pool.slice(0, 700), ...pool.slice(701)]], // one removed mid-list
      [pool.slice(0, 1000), pool.slice(1000)], // split across two localities
      [[...pool.slice(1000), ...pool.slice(0, 1000)]], // the halves swapped into one
      [[pool[5] as LbEndpoint, pool[5] as LbEndpoint, ...pool.slice(3, 9), pool[5] as LbEndpoint]], // repeats
      [pool.slice(0, 1000).reverse()], // no two neighbours kept
      [pool],
    ];
    let previous: Uint8Array | undefined;
    for (const groups of arrangements) {
      const cla = create(ClusterLoadAssignmentSchema, {
        clusterName: "c",
        endpoints: groups.map((lbEndpoints, k) => ({
          locality: { zone: `z${k}` },
          lbEndpoints,
          priority: k,
        })),
      });
      expectSameAsToBinary(cla);
      const ours = encodeClusterLoadAssignment(cla) as Uint8Array;
      // A new buffer every time: the one just made is where later copies come from.
      expect(ours).not.toBe(previous);
      previous = ours;
    }
  });

  it("writes an endpoint afresh when something under it can still change, though the endpoint itself is frozen", () => {
    const lb = lbEndpointAt("10.0.0.1", 80);
    Object.freeze(lb);
    Object.freeze(lb.hostIdentifier);
    const cla = () =>
      create(ClusterLoadAssignmentSchema, { clusterName: "c", endpoints: [{ lbEndpoints: [lb] }] });
    expectSameAsToBinary(cla());
    const ep = lb.hostIdentifier.value as {
      address?: { address: { case: string; value: { address: string } } };
    };
    if (ep.address) ep.address.address.value.address = "10.0.0.2";
    expectSameAsToBinary(cla());
    expect(hex(encodeClusterLoadAssignment(cla()) as Uint8Array)).toContain(
      Buffer.from("10.0.0.2").toString("hex"),
    );
  });

  it("copies a frozen endpoint's bytes into a later assignment exactly, with its metadata and weight", () => {
    const spec = cluster({
      ipFamily: "V6_PREFERRED",
      happyEyeballs: true,
      sources: [dnsSource("svc.example.com", 8080, { metadata: { version: "v1" } })],
    });
    const first = buildAssignmentFromAnswers(spec, [
      { a: a("svc.example.com", "10.0.0.1", "10.0.0.2"), aaaa: aaaa("svc.example.com", "fd00::1") },
    ]);
    expectSameAsToBinary(first);
    // The same endpoint messages in another assignment: another name, another locality, more endpoints.
    const reused = first.endpoints.flatMap((e) => e.lbEndpoints);
    expect(reused.every((lb) => Object.isFrozen(lb))).toBe(true);
    const second = create(ClusterLoadAssignmentSchema, {
      clusterName: "other",
      endpoints: [
        { locality: { zone: "z9" }, lbEndpoints: [...reused].reverse(), loadBalancingWeight: 7, priority: 0 },
        { locality: { zone: "z8" }, lbEndpoints: reused, priority: 1 },
      ],
    });
    expectSameAsToBinary(second);
  });
});

const base = (): ClusterLoadAssignment =>
  create(ClusterLoadAssignmentSchema, {
    clusterName: "c",
    endpoints: [
      {
        locality: { region: "r", zone: "z" },
        loadBalancingWeight: 1,
        lbEndpoints: [
          {
            hostIdentifier: {
              case: "endpoint",
              value: {
                address: {
                  address: {
                    case: "socketAddress",
                    value: { address: "127.0.0.1", portSpecifier: { case: "portValue", value: 80 } },
                  },
                },
              },
            },
            metadata: { filterMetadata: { "envoy.lb": { version: "v1" } } },
          },
        ],
      },
    ],
  });

// Each mutates a fresh base assignment so that exactly one unsupported thing is set.
const unsupported: Array<[string, (c: ClusterLoadAssignment) => void]> = [
  [
    "named_endpoints",
    (c) => {
      c.namedEndpoints = { a: create(EndpointSchema, { hostname: "h" }) };
    },
  ],
  [
    "endpoint_name host identifier",
    (c) => {
      const lbe = c.endpoints[0]?.lbEndpoints[0];
      if (lbe) lbe.hostIdentifier = { case: "endpointName", value: "ep" };
    },
  ],
  [
    "a metadata Value with number_value",
    (c) => {
      const md = c.endpoints[0]?.lbEndpoints[0]?.metadata;
      if (md) md.filterMetadata["envoy.lb"] = { version: 3 };
    },
  ],
  [
    "a nested Struct value",
    (c) => {
      const md = c.endpoints[0]?.lbEndpoints[0]?.metadata;
      if (md) md.filterMetadata["envoy.lb"] = { nested: { a: "b" } };
    },
  ],
  [
    "LocalityLbEndpoints.proximity",
    (c) => {
      const l = c.endpoints[0];
      if (l) l.proximity = 3;
    },
  ],
  [
    "LocalityLbEndpoints.metadata",
    (c) => {
      const l = c.endpoints[0];
      if (l) l.metadata = create(MetadataSchema);
    },
  ],
  [
    "unknown fields on LbEndpoint",
    (c) => {
      const lbe = c.endpoints[0]?.lbEndpoints[0];
      if (lbe) lbe.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([1]) }];
    },
  ],
  [
    "unknown fields on the assignment",
    (c) => {
      c.$unknown = [{ no: 99, wireType: 0, data: new Uint8Array([1]) }];
    },
  ],
  [
    "SocketAddress.resolver_name",
    (c) => {
      const ep = c.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
      if (ep?.case === "endpoint" && ep.value.address?.address.case === "socketAddress") {
        ep.value.address.address.value.resolverName = "dns";
      }
    },
  ],
  [
    "SocketAddress named_port",
    (c) => {
      const ep = c.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
      if (ep?.case === "endpoint" && ep.value.address?.address.case === "socketAddress") {
        ep.value.address.address.value.portSpecifier = { case: "namedPort", value: "http" };
      }
    },
  ],
  [
    "Address pipe",
    (c) => {
      const ep = c.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
      if (ep?.case === "endpoint" && ep.value.address) {
        ep.value.address.address = {
          case: "pipe",
          value: { $typeName: "envoy.config.core.v3.Pipe", path: "/p", mode: 0 },
        };
      }
    },
  ],
  [
    "Policy.drop_overloads",
    (c) => {
      c.policy = create(ClusterLoadAssignment_PolicySchema, { dropOverloads: [{ category: "x" }] });
    },
  ],
  [
    "Metadata.typed_filter_metadata",
    (c) => {
      const md = c.endpoints[0]?.lbEndpoints[0]?.metadata;
      if (md)
        md.typedFilterMetadata = {
          x: { $typeName: "google.protobuf.Any", typeUrl: "t", value: new Uint8Array() },
        };
    },
  ],
];

describe("encodeClusterLoadAssignment fallback", () => {
  it("encodes the unmodified base assignment itself", () => {
    expectSameAsToBinary(base());
  });

  it.each(unsupported)(
    "returns undefined for %s, and encodeResource still emits toBinary bytes",
    (_, mutate) => {
      const cla = base();
      mutate(cla);
      expect(encodeClusterLoadAssignment(cla)).toBeUndefined();
      const enc = encodeResource(TYPE_URLS.endpoint, "c", ClusterLoadAssignmentSchema, cla);
      expect(hex(enc.bytes)).toBe(hex(toBinary(ClusterLoadAssignmentSchema, cla)));
    },
  );

  it("declines values toBinary rejects, so the caller surfaces toBinary's error", () => {
    const cla = base();
    const ep = cla.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
    if (ep?.case === "endpoint" && ep.value.address?.address.case === "socketAddress") {
      ep.value.address.address.value.portSpecifier = { case: "portValue", value: -1 };
    }
    expect(encodeClusterLoadAssignment(cla)).toBeUndefined();
    expect(() => encodeResource(TYPE_URLS.endpoint, "c", ClusterLoadAssignmentSchema, cla)).toThrow();
  });

  it("refuses to build a check naming a field the schema lacks (a proto upgrade renamed it)", () => {
    expect(() => otherFieldsAtDefault(LbEndpointSchema, ["noSuchField"])).toThrow(/no field noSuchField/);
  });
});
