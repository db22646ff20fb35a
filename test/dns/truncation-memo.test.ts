// The truncation memo behind the resolver's TCP-first refreshes: bounded, oldest first out, expiring.
import { describe, expect, it } from "vitest";
import { TruncationMemo } from "../../src/dns/truncation-memo.js";

describe("truncation memo", () => {
  it("holds at most its bound, dropping the longest-unrefreshed entry, and forgets after its lifetime", () => {
    const m = new TruncationMemo(1000, 3);
    m.note("a", 0);
    m.note("b", 0);
    m.note("c", 0);
    // Noting "a" again makes it the newest, so "b" is the one a fourth entry pushes out.
    m.note("a", 10);
    m.note("d", 10);
    expect(m.size).toBe(3);
    expect(["a", "b", "c", "d"].map((k) => m.tcpFirst(k, 500))).toEqual([true, false, true, true]);
    expect(m.tcpFirst("c", 1000)).toBe(false);
    expect(m.tcpFirst("a", 1009)).toBe(true);
    expect(m.tcpFirst("a", 1010)).toBe(false);
    expect(m.size).toBe(1);
  });
});
