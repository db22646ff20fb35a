import { describe, expect, it } from "vitest";
import { SharedResponses } from "../../src/xds/shared-responses.js";

describe("SharedResponses", () => {
  it("builds once per key and generation, and forgets on a new generation", () => {
    const c = new SharedResponses();
    let builds = 0;
    const build = () => {
      builds++;
      return Buffer.from("x");
    };
    const a = c.get(1, "k", build);
    expect(c.get(1, "k", build)).toBe(a);
    expect(builds).toBe(1);
    c.get(2, "k", build);
    expect(builds).toBe(2);
  });

  it("stays within its entry and byte bounds", () => {
    const c = new SharedResponses(2, 10);
    let builds = 0;
    const mk = (n: number) => () => {
      builds++;
      return Buffer.alloc(n);
    };
    c.get(1, "a", mk(4));
    c.get(1, "b", mk(4));
    c.get(1, "c", mk(4)); // evicts a (entries and bytes)
    c.get(1, "a", mk(4));
    expect(builds).toBe(4);
    c.get(1, "big", mk(100)); // larger than the byte bound: returned, not kept
    c.get(1, "big", mk(100));
    expect(builds).toBe(6);
  });
});
