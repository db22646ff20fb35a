/**
 * CSDS node_matchers as Envoy defines them (NodeMatcher: node_id AND every node_metadatas; a request's
 * matchers ORed), over the node as CSDS returns it, and the regex guard that keeps a caller's pattern
 * from stalling the event loop.
 */
import { create } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { NodeMatcherSchema } from "../../src/gen/envoy/type/matcher/v3/node_pb.js";
import { fullMatchRegex, RegexError } from "../../src/xds/full-match-regex.js";
import { compileNodeMatchers, type MatchableNode, MatcherError } from "../../src/xds/node-matcher.js";

const NODE: MatchableNode = {
  id: "Payments-7f2",
  metadata: {
    team: "pay",
    canary: true,
    weight: 3,
    tags: ["blue", "eu"],
    gone: null,
    dns_eds: { peer: "10.1.4.7:51234", locality: { region: "eu", zone: "eu-1a", sub_zone: "" } },
  },
};

const path = (...keys: string[]) => keys.map((key) => ({ segment: { case: "key" as const, value: key } }));
const str = (m: object) => ({ matchPattern: { case: "stringMatch" as const, value: m } });
const meta = (keys: string[], value: object) =>
  create(NodeMatcherSchema, { nodeMetadatas: [{ path: path(...keys), value }] });
const id = (m: object) => create(NodeMatcherSchema, { nodeId: m });
const matches = (...m: ReturnType<typeof id>[]) => compileNodeMatchers(m)(NODE);

describe("node matchers", () => {
  it("node_id: exact, prefix, suffix, contains, safe_regex (full match), ignore_case", () => {
    expect(matches(id({ matchPattern: { case: "exact", value: "Payments-7f2" } }))).toBe(true);
    expect(matches(id({ matchPattern: { case: "exact", value: "payments-7f2" } }))).toBe(false);
    expect(matches(id({ matchPattern: { case: "exact", value: "payments-7f2" }, ignoreCase: true }))).toBe(
      true,
    );
    expect(matches(id({ matchPattern: { case: "prefix", value: "Pay" } }))).toBe(true);
    expect(matches(id({ matchPattern: { case: "suffix", value: "7f2" } }))).toBe(true);
    expect(matches(id({ matchPattern: { case: "contains", value: "ents-" } }))).toBe(true);
    expect(matches(id({ matchPattern: { case: "safeRegex", value: { regex: "Pay.*" } } }))).toBe(true);
    expect(matches(id({ matchPattern: { case: "safeRegex", value: { regex: "Pay" } } }))).toBe(false);
  });

  it("metadata: string, bool, double, present, null, list one_of, or; AND within, OR across", () => {
    expect(matches(meta(["team"], str({ matchPattern: { case: "exact", value: "pay" } })))).toBe(true);
    expect(matches(meta(["canary"], { matchPattern: { case: "boolMatch", value: true } }))).toBe(true);
    expect(
      matches(
        meta(["weight"], {
          matchPattern: {
            case: "doubleMatch",
            value: { matchPattern: { case: "range", value: { start: 1, end: 3 } } },
          },
        }),
      ),
    ).toBe(false);
    expect(
      matches(
        meta(["weight"], {
          matchPattern: { case: "doubleMatch", value: { matchPattern: { case: "exact", value: 3 } } },
        }),
      ),
    ).toBe(true);
    expect(matches(meta(["nope"], { matchPattern: { case: "presentMatch", value: false } }))).toBe(true);
    expect(matches(meta(["team"], { matchPattern: { case: "presentMatch", value: false } }))).toBe(false);
    expect(matches(meta(["gone"], { matchPattern: { case: "nullMatch", value: {} } }))).toBe(true);
    expect(
      matches(
        meta(["tags"], {
          matchPattern: {
            case: "listMatch",
            value: {
              matchPattern: { case: "oneOf", value: str({ matchPattern: { case: "exact", value: "eu" } }) },
            },
          },
        }),
      ),
    ).toBe(true);
    expect(
      matches(
        meta(["dns_eds", "locality", "zone"], {
          matchPattern: {
            case: "orMatch",
            value: {
              valueMatchers: [
                str({ matchPattern: { case: "exact", value: "x" } }),
                str({ matchPattern: { case: "prefix", value: "eu-1" } }),
              ],
            },
          },
        }),
      ),
    ).toBe(true);
    const both = create(NodeMatcherSchema, {
      nodeId: { matchPattern: { case: "prefix", value: "Pay" } },
      nodeMetadatas: [
        { path: path("team"), value: str({ matchPattern: { case: "exact", value: "other" } }) },
      ],
    });
    expect(matches(both)).toBe(false);
    expect(matches(both, id({ matchPattern: { case: "suffix", value: "7f2" } }))).toBe(true);
    expect(compileNodeMatchers([])(NODE)).toBe(true);
  });

  it("refuses what it cannot evaluate, naming where", () => {
    expect(() => matches(id({ matchPattern: { case: "custom", value: { name: "x" } } }))).toThrow(
      new MatcherError("node_matchers[0].node_id.custom: custom string matchers are not supported"),
    );
    expect(() =>
      compileNodeMatchers([
        create(NodeMatcherSchema, {
          nodeMetadatas: [{ path: [], value: str({ matchPattern: { case: "exact", value: "a" } }) }],
        }),
      ]),
    ).toThrow(/node_metadatas\[0\]\.path/);
    expect(() => matches(id({ matchPattern: { case: "safeRegex", value: { regex: "(a|aa)*" } } }))).toThrow(
      /nested repetition/,
    );
  });
});

describe("full-match regex guard", () => {
  it("accepts ordinary RE2-style patterns and matches whole strings", () => {
    for (const [re, s, want] of [
      ["web-[0-9]+", "web-12", true],
      ["web-[0-9]+", "xweb-12", false],
      ["(us|eu)-.*", "eu-west", true],
      ["a{2,3}", "aaa", true],
      ["[+*(]+x", "+*(x", true],
      ["(ab)?c", "abc", true],
      ["\\(a+\\)+", "(a)", true],
    ] as const) {
      expect(fullMatchRegex(re).test(s), `${re} ~ ${s}`).toBe(want);
    }
  });

  // Conservative: a repeated group with an alternation is refused too, harmless ones like (x|y)+ included.
  it("refuses backreferences, lookaround, nested repetition, unbalanced and long patterns", () => {
    for (const re of [
      "(a)\\1",
      "(?=a)a",
      "(?<!a)b",
      "(a+)+",
      "(a*)*b",
      "((ab)+)*",
      "(x|y)+",
      "(a",
      "a)",
      "a".repeat(300),
    ]) {
      expect(() => fullMatchRegex(re), re).toThrow(RegexError);
    }
  });
});
