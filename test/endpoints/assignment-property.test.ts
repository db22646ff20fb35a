/**
 * Property: whatever DNS, config, health and drain state look like, every assignment the builder makes
 * passes the client-side rules (our mirror and grpc-js-xds's own decoder).
 */
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { buildAssignment } from "../../src/endpoints/assignment-builder.js";
import type { ClusterSpec, IpFamilyPolicy, SourceSpec } from "../../src/endpoints/cluster-spec.js";
import { extractCandidates, type SourceResolution } from "../../src/endpoints/endpoint-candidates.js";
import type { EndpointHealth } from "../../src/health/types.js";
import { seeded } from "../support/property-seed.js";
import { grpcJsXdsErrors, validateCla } from "./cla-validator.js";
import { aaaaRecs, answer, aRecs, cluster, loc, srv, txtRecs } from "./fixtures.js";

// Small pools force collisions: duplicate addresses, shared localities, same-zone sources.
const v4 = fc.constantFrom("10.0.0.1", "10.0.0.2", "10.0.0.3", "192.168.1.1", "127.0.0.1");
const v6 = fc.constantFrom("fd00::1", "fd00::2", "::1", "2001:db8::5");
const port = fc.constantFrom(80, 443, 8080);
const locality = fc.constantFrom(loc("za"), loc("zb"), loc("zb", "r2"), loc("zc", "r1", "s1"));
const weight = fc.oneof(fc.integer({ min: 1, max: 100 }), fc.constant(0xffff_ffff), fc.constant(0x8000_0000));
const metadata = fc.dictionary(fc.constantFrom("version", "canary"), fc.constantFrom("v1", "v2", "true"), {
  maxKeys: 2,
});

const sourceAndRes: fc.Arbitrary<[SourceSpec, SourceResolution]> = fc.oneof(
  fc
    .record({
      locality,
      weight,
      metadata,
      txt: fc.boolean(),
      p: port,
      a: fc.array(v4, { maxLength: 4 }),
      aaaa: fc.array(v6, { maxLength: 3 }),
      txtKv: fc.array(fc.constantFrom("version=v2", "zone=x", "bad", "=x"), { maxLength: 3 }),
    })
    .map(({ locality, weight, metadata, txt, p, a, aaaa, txtKv }): [SourceSpec, SourceResolution] => [
      { kind: "dns", name: "n.svc", port: p, locality, weight, metadata, txtMetadata: txt },
      {
        a: answer("n.svc", "A", aRecs(...a)),
        aaaa: answer("n.svc", "AAAA", aaaaRecs(...aaaa)),
        txt: answer("n.svc", "TXT", txtRecs(...txtKv)),
      },
    ]),
  fc
    .record({
      locality,
      weight,
      metadata,
      entries: fc.array(
        fc.record({
          priority: fc.integer({ min: 0, max: 65535 }),
          weight: fc.integer({ min: 0, max: 65535 }),
          port,
          target: fc.constantFrom("h1.svc", "h2.svc", "h3.svc", "."),
          v4: fc.array(v4, { maxLength: 2 }),
          v6: fc.array(v6, { maxLength: 2 }),
        }),
        { maxLength: 6 },
      ),
    })
    .map(({ locality, weight, metadata, entries }): [SourceSpec, SourceResolution] => [
      { kind: "srv", name: "_s._tcp.svc", locality, weight, metadata, txtMetadata: false },
      { srv: srv("_s._tcp.svc", entries) },
    ]),
  fc
    .record({
      locality,
      weight,
      metadata,
      addrs: fc.array(fc.record({ address: fc.oneof(v4, v6, fc.constant("not-an-ip")), port }), {
        maxLength: 4,
      }),
    })
    .map(({ locality, weight, metadata, addrs }): [SourceSpec, SourceResolution] => [
      { kind: "static", addresses: addrs, locality, weight, metadata, txtMetadata: false },
      {},
    ]),
);

const input = fc.record({
  sources: fc.array(sourceAndRes, { minLength: 1, maxLength: 5 }),
  ipFamily: fc.constantFrom<IpFamilyPolicy>("V4_ONLY", "V6_ONLY", "V4_PREFERRED", "V6_PREFERRED", "ALL"),
  happyEyeballs: fc.boolean(),
  zoneAware: fc.boolean(),
  clientZone: fc.option(
    fc.record({ region: fc.constantFrom("", "r1", "r2"), zone: fc.constantFrom("za", "zb", "zq") }),
    { nil: undefined },
  ),
  selector: fc.option(metadata, { nil: undefined }),
  health: fc.func(fc.constantFrom<EndpointHealth | undefined>("HEALTHY", "UNHEALTHY", "UNKNOWN", undefined)),
  checked: fc.boolean(),
  drainMask: fc.array(fc.boolean(), { maxLength: 30 }),
});

describe("assignment builder property", () => {
  it("every built assignment passes the client-side validation rules", () => {
    fc.assert(
      fc.property(input, (x) => {
        const spec: ClusterSpec = cluster({
          sources: x.sources.map(([s]) => s),
          ipFamily: x.ipFamily,
          happyEyeballs: x.happyEyeballs,
          zoneAware: x.zoneAware,
          ...(x.selector ? { selector: x.selector } : {}),
          ...(x.checked
            ? {
                healthCheck: {
                  type: "tcp",
                  intervalMs: 1,
                  timeoutMs: 1,
                  healthyThreshold: 1,
                  unhealthyThreshold: 1,
                  initialJitter: 0,
                  intervalJitter: 0,
                },
              }
            : {}),
        });
        const candidates = extractCandidates(
          spec,
          x.sources.map(([, r]) => r),
        );
        // Some candidates also appear as draining, and some draining ones are not current any more.
        const draining = candidates
          .filter((_, i) => x.drainMask[i])
          .map((c) => ({
            ...c,
            address: c.family === 4 ? "10.9.9.9" : "fd09::9",
            key: c.family === 4 ? `10.9.9.9|${c.port}` : `fd09::9|${c.port}`,
          }));
        const cla = buildAssignment({
          spec,
          candidates,
          draining: [...draining, ...candidates.slice(0, 2)],
          health: x.health,
          ...(x.clientZone ? { clientZone: x.clientZone } : {}),
        });
        expect(validateCla(cla)).toEqual([]);
        expect(grpcJsXdsErrors(cla)).toBeUndefined();
        if (!x.selector) {
          // Nothing the client could use is silently lost: every distinct current address is listed.
          const listed = new Set<string>();
          for (const le of cla.endpoints)
            for (const lb of le.lbEndpoints)
              if (lb.hostIdentifier.case === "endpoint")
                for (const ad of [
                  lb.hostIdentifier.value.address,
                  ...lb.hostIdentifier.value.additionalAddresses.map((z) => z.address),
                ])
                  if (ad?.address.case === "socketAddress")
                    listed.add(`${ad.address.value.address}|${ad.address.value.portSpecifier.value}`);
          for (const c of candidates) expect(listed.has(c.key)).toBe(true);
        }
      }),
      seeded({ seed: 15011, runs: 400, label: "assignment builder" }),
    );
  });
});
