import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { versionsDigest } from "../../src/xds/versions-digest.js";
import { seeded } from "../support/property-seed.js";

const version = fc.stringMatching(/^[0-9a-f]{16}$/);
const pairs = fc.uniqueArray(fc.tuple(fc.string({ minLength: 1, maxLength: 40 }), version), {
  minLength: 2,
  maxLength: 30,
  selector: ([n]) => n,
});

describe("SotW version_info of a multi-resource state", () => {
  it("is the resource's own version when the state holds one resource", () => {
    expect(versionsDigest(new Map([["svc", "0123456789abcdef"]]))).toBe("0123456789abcdef");
  });

  it("is 16 hex digits, and the same for the same pairs added in any order (every replica agrees)", () => {
    fc.assert(
      fc.property(pairs, fc.integer(), (ps, shift) => {
        const d = versionsDigest(new Map(ps));
        expect(d).toMatch(/^[0-9a-f]{16}$/);
        const k = Math.abs(shift) % ps.length;
        const rotated = [...ps.slice(k), ...ps.slice(0, k)].reverse();
        expect(versionsDigest(new Map(rotated))).toBe(d);
      }),
      seeded({ seed: 20261204, runs: 500, label: "versions digest, order" }),
    );
  });

  it("changes when any one version changes, or a name comes or goes", () => {
    fc.assert(
      fc.property(pairs, version, fc.nat(), (ps, other, at) => {
        const d = versionsDigest(new Map(ps));
        const i = at % ps.length;
        const [name, v] = ps[i] as [string, string];
        fc.pre(other !== v);
        const changed = new Map(ps);
        changed.set(name, other);
        expect(versionsDigest(changed)).not.toBe(d);
        const grown = new Map(ps);
        grown.set(`${name}\0extra`, v);
        expect(versionsDigest(grown)).not.toBe(d);
        if (ps.length > 2) {
          const shrunk = new Map(ps);
          shrunk.delete(name);
          expect(versionsDigest(shrunk)).not.toBe(d);
        }
      }),
      seeded({ seed: 20261205, runs: 500, label: "versions digest, change" }),
    );
  });

  it("tells apart pairs whose name and version split the same text differently, and swapped versions", () => {
    const a = versionsDigest(
      new Map([
        ["ab", "c"],
        ["x", "1"],
      ]),
    );
    const b = versionsDigest(
      new Map([
        ["a", "bc"],
        ["x", "1"],
      ]),
    );
    expect(a).not.toBe(b);
    // Two names trading versions hold different content: a sum of hashes of the versions alone would
    // not see it.
    const one = new Map([
      ["svc-a", "1111111111111111"],
      ["svc-b", "2222222222222222"],
    ]);
    const swapped = new Map([
      ["svc-a", "2222222222222222"],
      ["svc-b", "1111111111111111"],
    ]);
    expect(versionsDigest(one)).not.toBe(versionsDigest(swapped));
  });

  it("gives 20,000 distinct states of ten clusters 20,000 distinct digests", () => {
    // The W3/W4 shape: ten names per stream, each at one of many versions. Fixed pseudo-random versions
    // (a linear congruential sequence), so the run is the same every time.
    let x = 20261204;
    const next = () => {
      x = (Math.imul(x, 1103515245) + 12345) >>> 0;
      return x.toString(16).padStart(8, "0");
    };
    const seen = new Set<string>();
    for (let s = 0; s < 20_000; s++) {
      const m = new Map<string, string>();
      for (let c = 0; c < 10; c++) m.set(`cluster-${c}`, next() + next());
      seen.add(versionsDigest(m));
    }
    expect(seen.size).toBe(20_000);
  });

  it("is the same value release to release for the same pairs (replicas of different builds agree)", () => {
    expect(
      versionsDigest(
        new Map([
          ["svc-a", "0123456789abcdef"],
          ["svc-b", "fedcba9876543210"],
        ]),
      ),
    ).toBe(GOLDEN);
  });
});

// Worked out apart from the code under test (the same FNV-1a lanes, murmur3 finaliser and sums, in
// Python), so a change of the digest shows here as a decision, not as drift.
const GOLDEN = "7f1af66a8ac500ee";
