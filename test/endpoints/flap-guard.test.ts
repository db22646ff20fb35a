/**
 * The pure parts of the flap guard (issue 16): the decision from an answer's facts, the "auto" grace,
 * the shrink threshold's edge, and the texts /clusters and the logs show.
 */
import { describe, expect, it } from "vitest";
import { renderClustersText } from "../../src/admin/clusters-page.js";
import type { Answer } from "../../src/dns/types.js";
import {
  describeHold,
  graceMs,
  guardAnswer,
  holdEventMessage,
  isBigShrink,
} from "../../src/endpoints/flap-guard.js";
import { a, answer, aRecs, T0 } from "./fixtures.js";

const NAME = "api.example.com";
const spec = { emptyGraceMs: 60_000, shrinkThreshold: 0.5, shrinkHoldMs: 30_000 } as const;
const content = (...ips: string[]) => ({ records: aRecs(...ips), ttl: 30, resolvedAt: T0 });

describe("flap guard decisions", () => {
  it("serves the confirmed set through a grace and the empty answer after it", () => {
    const nx: Answer = answer(NAME, "A", [], {
      rcode: 3,
      resolvedAt: T0 + 5000,
      history: { confirmed: content("10.0.0.1", "10.0.0.2"), emptySince: T0 + 1000 },
    });
    const inside = guardAnswer(nx, spec, T0 + 60_999);
    expect(inside.answer.records).toEqual(aRecs("10.0.0.1", "10.0.0.2"));
    expect(inside.answer.rcode).toBe(0);
    expect(inside.hold).toEqual({
      kind: "empty",
      rcode: 3,
      since: T0 + 1000,
      until: T0 + 61_000,
      records: 2,
    });
    const after = guardAnswer(nx, spec, T0 + 61_000);
    expect(after.answer).toBe(nx);
    expect(after.hold).toBeUndefined();
  });

  it("without a spec or a history, answers go through unchanged", () => {
    const nx = answer(NAME, "A", [], { rcode: 3 });
    expect(guardAnswer(nx, spec, T0).answer).toBe(nx);
    const withHistory = { ...nx, history: { confirmed: content("10.0.0.1"), emptySince: T0 } };
    expect(guardAnswer(withHistory, undefined, T0).answer).toBe(withHistory);
  });

  it('"auto" is max(60 s, 2 × TTL); a number is exact', () => {
    expect(graceMs({ ...spec, emptyGraceMs: "auto" }, 5)).toBe(60_000);
    expect(graceMs({ ...spec, emptyGraceMs: "auto" }, 45)).toBe(90_000);
    expect(graceMs({ ...spec, emptyGraceMs: 1234 }, 45)).toBe(1234);
  });

  it("a shrink is big when the answer is smaller and lacks more than the threshold's share", () => {
    expect(isBigShrink(content("1.1.1.1", "1.1.1.2"), content("1.1.1.1"), 0.5)).toBe(false); // exactly half
    expect(isBigShrink(content("1.1.1.1", "1.1.1.2", "1.1.1.3"), content("1.1.1.1"), 0.5)).toBe(true);
    // Replaced one for one: not smaller, so not a shrink, however much is missing.
    expect(isBigShrink(content("1.1.1.1"), content("1.1.1.2"), 0)).toBe(false);
    expect(isBigShrink(content("1.1.1.1", "1.1.1.2", "1.1.1.3", "1.1.1.4"), content("1.1.1.1"), 0.75)).toBe(
      false,
    );
  });

  it("holds a big shrink seen once, until its hold runs out", () => {
    const once = {
      ...a(NAME, "10.0.0.1"),
      resolvedAt: T0 + 5000,
      history: {
        confirmed: content("10.0.0.1", "10.0.0.2", "10.0.0.3"),
        pending: { content: content("10.0.0.1"), since: T0 + 5000 },
      },
    };
    expect(guardAnswer(once, spec, T0 + 34_999).answer.records).toHaveLength(3);
    expect(guardAnswer(once, spec, T0 + 35_000).answer).toBe(once);
    expect(guardAnswer(once, { ...spec, shrinkHoldMs: 0 }, T0 + 5000).answer).toBe(once);
  });

  it("says what is held, in /clusters and in the logs", () => {
    const empty = {
      lookup: "A api.example.com.",
      kind: "empty",
      rcode: 3,
      since: T0,
      until: T0 + 60_000,
      records: 2,
    } as const;
    const shrink = {
      lookup: "A api.example.com.",
      kind: "shrink",
      since: T0,
      until: T0 + 30_000,
      from: 5,
      to: 1,
    } as const;
    expect(describeHold(empty)).toBe(
      "A api.example.com.: NXDOMAIN since 2023-11-14T22:13:20.000Z, serving the last set (2 records) until 2023-11-14T22:14:20.000Z",
    );
    expect(describeHold(shrink)).toBe(
      "A api.example.com.: shrink held: seen once (5 → 1 records at 2023-11-14T22:13:20.000Z), applies when seen again or at 2023-11-14T22:13:50.000Z",
    );
    const text = renderClustersText([{ name: "api", endpoints: [], notes: [describeHold(empty)] }]);
    expect(text).toContain("  held: A api.example.com.: NXDOMAIN since");
    expect(holdEventMessage({ phase: "start", cluster: "api", lookup: empty.lookup, hold: empty })).toBe(
      "NXDOMAIN for A api.example.com. after records: serving the last set until 2023-11-14T22:14:20.000Z",
    );
    expect(
      holdEventMessage({
        phase: "end",
        cluster: "api",
        lookup: shrink.lookup,
        hold: shrink,
        outcome: "confirmed",
      }),
    ).toBe("shrink hold for A api.example.com. ended: seen again, the smaller set applies");
  });
});
