// A and AAAA addresses as numbers (src/dns/address-data.ts): the text parsers accept exactly the spelling
// the formatters make (named cases, then a seeded fast-check property over edited texts), since the
// unchanged check compares parsed held addresses where it used to compare text.
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import {
  formatIpv4,
  formatIpv6Words,
  Ipv4Data,
  Ipv6Data,
  parseIpv4,
  parseIpv6,
} from "../../src/dns/address-data.js";
import { seeded } from "../support/property-seed.js";

const v6 = (text: string): number[] | undefined => {
  const out = new Uint16Array(8);
  return parseIpv6(text, out, 0) ? [...out] : undefined;
};

describe("address text ↔ numbers", () => {
  it("reads back the text the formatters make", () => {
    expect(parseIpv4("10.0.0.1")).toBe(0x0a000001);
    expect(parseIpv4("0.0.0.0")).toBe(0);
    expect(parseIpv4("255.255.255.255")).toBe(0xffffffff);
    expect(v6("::")).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(v6("::1")).toEqual([0, 0, 0, 0, 0, 0, 0, 1]);
    expect(v6("1::")).toEqual([1, 0, 0, 0, 0, 0, 0, 0]);
    expect(v6("2001:db8::1:0:0:1")).toEqual([0x2001, 0xdb8, 0, 0, 1, 0, 0, 1]);
    expect(v6("1:0:0:2::3")).toEqual([1, 0, 0, 2, 0, 0, 0, 3]);
    expect(v6("2001:db8:0:1:1:1:1:1")).toEqual([0x2001, 0xdb8, 0, 1, 1, 1, 1, 1]);
    expect(v6("::ffff:102:304")).toEqual([0, 0, 0, 0, 0, 0xffff, 0x102, 0x304]);
  });

  it("refuses every other spelling, even of a valid address", () => {
    for (const t of ["01.2.3.4", "1.2.3", "1.2.3.4.5", "256.1.1.1", " 1.2.3.4", "1.2.3.4 ", "1..2.3", ""]) {
      expect(parseIpv4(t), t).toBe(-1);
    }
    for (const t of [
      "2001:DB8::1", // upper case
      "2001:0db8::1", // leading zero
      "0:0::1", // zeros left of the gap
      "::0:1",
      "1:0:0:2:0:0:0:3", // the longest run not compressed
      "1::2:0:0:0:3", // the shorter run compressed
      "2001:db8::1:1:1:1:1", // a single zero group compressed
      "2001:db8:0:0:1::1", // the first of two equal runs not compressed
      "::ffff:1.2.3.4", // dotted tail
      "fe80::1%eth0", // zone
      "1::1::1",
      ":::",
      ":1::",
      "1::1:",
      "1:2:3:4:5:6:7",
      "1:2:3:4:5:6:7:8:9",
      "1:2:3:4:5:6:7::8",
      "12345::",
      "",
    ]) {
      expect(v6(t), t).toBeUndefined();
    }
    // Plain records are typed, not checked.
    expect(parseIpv4(undefined as unknown as string)).toBe(-1);
    expect(v6(42 as unknown as string)).toBeUndefined();
  });

  it("makes the text on first read and keeps it; fromText keeps the numbers and the text", () => {
    const a = new Ipv4Data(0xc0a8, 0x010a);
    expect(a.address).toBe("192.168.1.10");
    expect(a.address).toBe("192.168.1.10");
    const b = new Ipv6Data(0x2001, 0xdb8, 0, 0, 1, 0, 0, 1);
    expect(b.address).toBe("2001:db8::1:0:0:1");
    expect(b.address).toBe(b.address);
    expect(Ipv4Data.fromText("192.168.1.10")).toMatchObject({ kind: "A", hi: 0xc0a8, lo: 0x010a });
    expect(Ipv6Data.fromText("2001:db8::1:0:0:1")).toMatchObject({ kind: "AAAA", w0: 0x2001, w4: 1, w7: 1 });
    expect(Ipv6Data.fromText("2001:db8::1:0:0:1")?.address).toBe("2001:db8::1:0:0:1");
    expect(Ipv4Data.fromText("192.168.01.10")).toBeUndefined();
  });

  it("seed 20261203: a parser accepts a text exactly when it is the formatter's text of what it read (seeded property)", () => {
    // Groups drawn mostly from 0 and 1 so zero runs of every length and position occur.
    const group = fc.oneof(fc.constantFrom(0, 0, 0, 1), fc.integer({ min: 0, max: 0xffff }));
    const words = fc.array(group, { minLength: 8, maxLength: 8 });
    const octets = fc.array(fc.oneof(fc.constantFrom(0, 1, 255), fc.integer({ min: 0, max: 255 })), {
      minLength: 4,
      maxLength: 4,
    });
    const edit = fc.record({
      op: fc.constantFrom("none", "insert", "delete", "replace", "upper"),
      at: fc.nat(),
      c: fc.constantFrom(..."0123456789abcdefABCDEF:.%g "),
    });
    const edited = (text: string, e: { op: string; at: number; c: string }): string => {
      const i = e.at % (text.length + 1);
      if (e.op === "insert") return text.slice(0, i) + e.c + text.slice(i);
      if (e.op === "delete") return text.slice(0, i) + text.slice(i + 1);
      if (e.op === "replace") return text.slice(0, i) + e.c + text.slice(i + 1);
      if (e.op === "upper") return text.toUpperCase();
      return text;
    };
    fc.assert(
      fc.property(words, octets, edit, (w, o, e) => {
        const text6 = formatIpv6Words(w);
        expect(v6(text6)).toEqual(w);
        const t6 = edited(text6, e);
        const got6 = v6(t6);
        if (got6 !== undefined) expect(formatIpv6Words(got6)).toBe(t6);
        const [o0, o1, o2, o3] = o as [number, number, number, number];
        const text4 = formatIpv4(o0 * 256 + o1, o2 * 256 + o3);
        expect(parseIpv4(text4)).toBe(((o0 << 24) >>> 0) + (o1 << 16) + (o2 << 8) + o3);
        const t4 = edited(text4, e);
        const got4 = parseIpv4(t4);
        if (got4 >= 0) expect(formatIpv4(got4 >>> 16, got4 & 0xffff)).toBe(t4);
      }),
      seeded({ seed: 20261203, runs: 5000, label: "address text" }),
    );
  });
});
