/**
 * The facts an answer's history records (issue 16): the last confirmed non-empty answer, the start of
 * an empty run (kept, never renewed, across every later empty answer) and a shrink seen once, confirmed
 * by a second sighting. Times are the answers' own resolvedAt.
 */
import { describe, expect, it } from "vitest";
import { recordAnswer } from "../../src/dns/answer-history.js";
import type { Answer } from "../../src/dns/types.js";
import { a, answer, srv, T0 } from "../endpoints/fixtures.js";

const NAME = "api.example.com";
const at = (ms: number, x: Answer): Answer => ({ ...x, resolvedAt: T0 + ms });
const nx = (ms: number): Answer => answer(NAME, "A", [], { rcode: 3, ttl: 10, resolvedAt: T0 + ms });
const nodata = (ms: number): Answer => answer(NAME, "A", [], { rcode: 0, ttl: 10, resolvedAt: T0 + ms });

/** Feeds answers in order as the cache does, each one's history from the one before. */
function run(answers: Answer[]): Answer[] {
  const out: Answer[] = [];
  let prev: Answer | undefined;
  for (const x of answers) {
    const h = recordAnswer(prev, x);
    const next = h ? { ...x, history: h } : x;
    out.push(next);
    prev = next;
  }
  return out;
}

const addrs = (c: { records: Answer["records"] } | undefined) =>
  (c?.records ?? []).map((r) => (r.type === "A" ? r.address : "?")).sort();

describe("answer history", () => {
  it("a non-empty answer is its own confirmed answer; growth and reordering stay confirmed", () => {
    const [first, grown] = run([
      at(0, a(NAME, "10.0.0.1", "10.0.0.2")),
      at(1000, a(NAME, "10.0.0.3", "10.0.0.2", "10.0.0.1")),
    ]);
    expect(addrs(first?.history?.confirmed)).toEqual(["10.0.0.1", "10.0.0.2"]);
    expect(first?.history?.pending).toBeUndefined();
    expect(addrs(grown?.history?.confirmed)).toEqual(["10.0.0.1", "10.0.0.2", "10.0.0.3"]);
    expect(grown?.history?.pending).toBeUndefined();
  });

  it("the first empty answer starts the run; NXDOMAIN and NODATA after it keep that start", () => {
    const out = run([at(0, a(NAME, "10.0.0.1")), nx(5000), nodata(10_000), nx(15_000)]);
    for (const x of out.slice(1)) {
      expect(x.history?.emptySince).toBe(T0 + 5000);
      expect(addrs(x.history?.confirmed)).toEqual(["10.0.0.1"]);
    }
    const back = run([...out, at(20_000, a(NAME, "10.0.0.1"))]).at(-1);
    expect(back?.history?.emptySince).toBeUndefined();
  });

  it("a name that never had records has no history", () => {
    expect(run([nx(0), nx(1000)]).map((x) => x.history)).toEqual([undefined, undefined]);
  });

  it("an answer that removes records is pending until seen again, then confirmed", () => {
    const five = at(0, a(NAME, "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"));
    const [, once, twice] = run([five, at(5000, a(NAME, "10.0.0.1")), at(10_000, a(NAME, "10.0.0.1"))]);
    expect(addrs(once?.history?.confirmed)).toHaveLength(5);
    expect(once?.history?.pending?.since).toBe(T0 + 5000);
    expect(addrs(once?.history?.pending?.content)).toEqual(["10.0.0.1"]);
    expect(twice?.history?.pending).toBeUndefined();
    expect(addrs(twice?.history?.confirmed)).toEqual(["10.0.0.1"]);
  });

  it("a different smaller answer replaces the pending one; the full set back drops it", () => {
    const five = at(0, a(NAME, "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"));
    const out = run([five, at(5000, a(NAME, "10.0.0.1")), at(10_000, a(NAME, "10.0.0.2")), at(15_000, five)]);
    expect(out[2]?.history?.pending?.since).toBe(T0 + 10_000);
    expect(addrs(out[2]?.history?.pending?.content)).toEqual(["10.0.0.2"]);
    expect(addrs(out[2]?.history?.confirmed)).toHaveLength(5);
    expect(out[3]?.history?.pending).toBeUndefined();
    expect(addrs(out[3]?.history?.confirmed)).toHaveLength(5);
  });

  it("an empty run keeps a pending answer, and the same answer after it confirms it", () => {
    const three = at(0, a(NAME, "10.0.0.1", "10.0.0.2", "10.0.0.3"));
    const out = run([three, at(5000, a(NAME, "10.0.0.1")), nx(10_000), at(15_000, a(NAME, "10.0.0.1"))]);
    expect(out[2]?.history?.pending?.since).toBe(T0 + 5000);
    expect(out[2]?.history?.emptySince).toBe(T0 + 10_000);
    expect(out[3]?.history?.pending).toBeUndefined();
    expect(addrs(out[3]?.history?.confirmed)).toEqual(["10.0.0.1"]);
  });

  it("the same sighting delivered twice (no newer resolvedAt) does not confirm a pending answer", () => {
    const [five, once] = run([
      at(0, a(NAME, "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5")),
      at(5000, a(NAME, "10.0.0.1")),
    ]);
    const again = recordAnswer(once, { ...at(5000, a(NAME, "10.0.0.1")) });
    expect(again?.pending?.since).toBe(T0 + 5000);
    expect(five?.history?.pending).toBeUndefined();
  });

  it("SRV records are compared by target and port; priority and weight changes remove nothing", () => {
    const e = (target: string, weight = 10) => ({ priority: 0, weight, port: 80, target });
    const out = run([
      at(0, srv("_h._tcp.x", [e("a.x"), e("b.x"), e("c.x")])),
      at(1000, srv("_h._tcp.x", [e("a.x", 50), e("b.x"), e("c.x")])),
      at(2000, srv("_h._tcp.x", [e("a.x")])),
    ]);
    expect(out[1]?.history?.pending).toBeUndefined();
    expect(out[2]?.history?.pending?.since).toBe(T0 + 2000);
  });

  it("TXT answers carry no history", () => {
    expect(
      recordAnswer(undefined, answer(NAME, "TXT", [{ type: "TXT", strings: ["a=b"], ttl: 5 }])),
    ).toBeUndefined();
  });
});
