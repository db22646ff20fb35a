import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { parseTtl, parseZoneFile, ZoneFileError } from "../../src/demo/zone-file.js";

const SOA = "@ IN SOA ns hostmaster 7 60 30 600 15";

function errorOf(text: string): ZoneFileError {
  try {
    parseZoneFile(text);
  } catch (err) {
    expect(err).toBeInstanceOf(ZoneFileError);
    return err as ZoneFileError;
  }
  throw new Error("expected a ZoneFileError");
}

describe("parseZoneFile", () => {
  it("parses the demo zone with relative names, blank owners, parentheses and comments", () => {
    const zone = parseZoneFile(
      readFileSync(new URL("../../examples/demo/demo.zone", import.meta.url), "utf8"),
    );
    expect(zone.origin).toBe("demo.dns-eds.test.");
    expect(zone.soa.data).toEqual({
      mname: "ns.demo.dns-eds.test.",
      rname: "hostmaster.demo.dns-eds.test.",
      serial: 1,
      refresh: 60,
      retry: 30,
      expire: 600,
      minimum: 5,
    });
    const echo = zone.records.filter((r) => r.name === "echo.demo.dns-eds.test.");
    expect(echo.map((r) => [r.type, r.data])).toEqual([
      ["A", "127.0.0.1"],
      ["A", "127.0.0.2"],
      ["AAAA", "::1"],
      ["TXT", ["version=v1", "team=demo"]],
    ]);
    const srv = zone.records.filter((r) => r.type === "SRV");
    expect(srv).toHaveLength(3);
    expect(srv[0]).toMatchObject({
      name: "_grpc._tcp.echo.demo.dns-eds.test.",
      ttl: 5,
      data: { priority: 0, weight: 10, port: 50051, target: "backend-1.demo.dns-eds.test." },
    });
    expect(zone.records.find((r) => r.type === "CNAME")?.data).toBe("echo.demo.dns-eds.test.");
  });

  it("accepts TTL and class in either order, TTL units, and an origin given by the caller", () => {
    const zone = parseZoneFile(`${SOA}\na 1h IN A 10.0.0.1\nb IN 2m A 10.0.0.2\nc A 10.0.0.3\n`, {
      origin: "Example.TEST",
    });
    expect(zone.origin).toBe("example.test.");
    const ttl = Object.fromEntries(zone.records.map((r) => [r.name, r.ttl]));
    expect(ttl["a.example.test."]).toBe(3600);
    expect(ttl["b.example.test."]).toBe(120);
    // No $TTL: a record without a TTL inherits the previous record's (RFC 1035 §5.1).
    expect(ttl["c.example.test."]).toBe(120);
  });

  it("uses $TTL, quoted TXT with escapes and semicolons, and lower-cases names", () => {
    const zone = parseZoneFile(`$ORIGIN z.test.\n$TTL 30\n${SOA}\nTxT TXT "a;b" "q\\"x" "\\065"\n`);
    const txt = zone.records.find((r) => r.type === "TXT");
    expect(txt).toMatchObject({ name: "txt.z.test.", ttl: 30, data: ["a;b", 'q"x', "A"] });
    expect(parseTtl("1w1d1h1m1s", 1)).toBe(604800 + 86400 + 3600 + 61);
  });

  it.each([
    ["$ORIGIN z.test.\n@ SOA ns hm 1 2 3 4 5\n\nx A 300.1.1.1\n", 4, "bad IPv4 address"],
    ["$ORIGIN z.test.\n@ SOA ns hm 1 2 3 4 5\nx AAAA 10.0.0.1\n", 3, "bad IPv6 address"],
    ["$ORIGIN z.test.\n@ SOA ns hm 1 2 3 4 5\nx MX 10 mail\n", 3, "unsupported record type 'MX'"],
    ["$ORIGIN z.test.\n@ SOA ns hm 1 2 3 4 5\n_s._tcp SRV 0 1 70000 x\n", 3, "SRV port: expected 0..65535"],
    ["$ORIGIN z.test.\n@ SOA ns hm (\n 1 2 3\n 4 5\n", 2, "'(' not closed"],
    ['$ORIGIN z.test.\n@ SOA ns hm 1 2 3 4 5\nt TXT "open\n', 3, "newline inside a quoted string"],
    ["$ORIGIN z.test.\n@ SOA ns hm 1 2 3 4 5\nw CNAME x\nw A 10.0.0.1\n", 4, "next to a CNAME"],
    ["$ORIGIN z.test.\n@ SOA ns hm 1 2 3 4 5\nx.other.test. A 10.0.0.1\n", 3, "outside the zone"],
    ["$ORIGIN z.test.\n@ SOA ns hm 1 2 3 4 5\n@ SOA ns hm 1 2 3 4 5\n", 3, "more than one SOA"],
    ["$ORIGIN z.test.\n@ SOA ns hm 1 2 3 4 5\nbad..name A 10.0.0.1\n", 3, "empty label"],
    ["$ORIGIN z.test.\n@ SOA ns hm 1 2 3 4 5\n$INCLUDE other\n", 3, "unsupported directive"],
    ["x A 10.0.0.1\n", 1, "record before $ORIGIN"],
    ["$ORIGIN z.test.\n@ SOA ns hm 1 2 3 4 5\nx 99999999999 A 10.0.0.1\n", 3, "exceeds"],
    ["$ORIGIN z.test.\n@ SOA ns hm 1 2 3 4 5\nx CH A 10.0.0.1\n", 3, "class CH not supported"],
  ])("rejects %j at line %i", (text, line, message) => {
    const err = errorOf(text);
    expect(err.code).toBe("ERR_ZONE_FILE");
    expect(err.line).toBe(line);
    expect(err.message).toContain(`line ${line}: `);
    expect(err.message).toContain(message);
  });

  it("rejects a zone without SOA as a whole-zone error", () => {
    const err = errorOf("$ORIGIN z.test.\nx A 10.0.0.1\n");
    expect(err.line).toBe(0);
    expect(err.message).toContain("no SOA");
  });
});
