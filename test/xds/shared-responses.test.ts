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

  it("finds a one-resource response by the resource object, with the same version_info, nonce and protocol", () => {
    const c = new SharedResponses();
    let builds = 0;
    let keys = 0;
    const build = () => {
      builds++;
      return Buffer.from(`r${builds}`);
    };
    const key = (k: string) => () => {
      keys++;
      return k;
    };
    const e = { name: "x" };
    const a = c.getOne(1, "sotw", e, "v", "1.0", key("e/v/1.0"), build);
    expect(c.getOne(1, "sotw", e, "v", "1.0", key("e/v/1.0"), build)).toBe(a);
    // The hit made no key.
    expect(keys).toBe(1);
    // Another nonce, version_info or protocol is another response.
    const b = c.getOne(1, "sotw", e, "v", "1.1", key("e/v/1.1"), build);
    expect(b).not.toBe(a);
    expect(c.getOne(1, "sotw", e, "w", "1.1", key("e/w/1.1"), build)).not.toBe(b);
    expect(c.getOne(1, "delta", e, "w", "1.1", key("d/e/1.1"), build)).not.toBe(b);
    expect(builds).toBe(4);
    // A miss by object still finds what the key holds: the response with nonce 1.0 is not built again.
    expect(c.getOne(1, "sotw", e, "v", "1.0", key("e/v/1.0"), build)).toBe(a);
    expect(builds).toBe(4);
    // A new generation forgets both.
    c.getOne(2, "sotw", e, "v", "1.0", key("e/v/1.0"), build);
    expect(builds).toBe(5);
  });

  it("findOne answers what getOne assembled, and nothing for another nonce, version_info, protocol or generation", () => {
    const c = new SharedResponses();
    const e = { name: "x" };
    expect(c.findOne(1, "sotw", e, "v", "1.0")).toBeUndefined();
    const a = c.getOne(
      1,
      "sotw",
      e,
      "v",
      "1.0",
      () => "e/v/1.0",
      () => Buffer.from("a"),
    );
    expect(c.findOne(1, "sotw", e, "v", "1.0")).toBe(a);
    expect(c.findOne(1, "sotw", e, "v", "1.1")).toBeUndefined();
    expect(c.findOne(1, "sotw", e, "w", "1.0")).toBeUndefined();
    expect(c.findOne(1, "delta", e, "v", "1.0")).toBeUndefined();
    expect(c.findOne(1, "sotw", { name: "x" }, "v", "1.0")).toBeUndefined();
    expect(c.findOne(2, "sotw", e, "v", "1.0")).toBeUndefined();
    // The new generation forgot it for getOne too.
    expect(
      c
        .getOne(
          2,
          "sotw",
          e,
          "v",
          "1.0",
          () => "e/v/1.0",
          () => Buffer.from("b"),
        )
        .toString(),
    ).toBe("b");
  });

  it("keeps a response found by resource only while its keyed entry is kept", () => {
    const c = new SharedResponses(2, 10);
    let builds = 0;
    const build = () => {
      builds++;
      return Buffer.alloc(4);
    };
    const e = { name: "x" };
    c.getOne(1, "sotw", e, "v", "1.0", () => "e", build);
    c.get(1, "b", build);
    c.get(1, "c", build); // evicts e's entry, and with it the lookup by object
    c.getOne(1, "sotw", e, "v", "1.0", () => "e", build);
    expect(builds).toBe(4);
    // Larger than the byte bound: returned, kept neither way.
    const big = { name: "big" };
    const huge = () => {
      builds++;
      return Buffer.alloc(100);
    };
    c.getOne(1, "sotw", big, "v", "1.0", () => "big", huge);
    c.getOne(1, "sotw", big, "v", "1.0", () => "big", huge);
    expect(builds).toBe(6);
  });
});
