/**
 * One of each: the DNS-name validator, the `host:port` parser, the resolv.conf reader and the backoff
 * are each one module now, used by config, resolver and cache alike. These tests pin the rules where
 * the old copies disagreed (`_` in names, zone ids, bare IPv6, the jitter range).
 */
import { describe, expect, it } from "vitest";
import { normalizeName as cacheNormalize } from "../../src/cache/cache-key.js";
import { parseConfigText } from "../../src/config/load-config.js";
import { backoffDelay } from "../../src/dns/backoff.js";
import { parseHostPort } from "../../src/dns/host-port.js";
import { isValidName, nameProblem } from "../../src/dns/name-validation.js";
import { parseResolvConf } from "../../src/dns/resolv-conf.js";
import { parseServerAddress } from "../../src/dns/server-address.js";

const noResolvConf = { readResolvConf: () => undefined };

describe("one DNS-name validator", () => {
  it("says where `_` may appear, the same way for every caller", () => {
    // lookup (resolver, cache): `_` anywhere, since real zones and SRV owners use it.
    expect(isValidName("_grpc._tcp.svc.example.com.")).toBe(true);
    expect(isValidName("host_name.example.com")).toBe(true);
    // host (config dns names, SRV targets): RFC 1123 only.
    expect(nameProblem("host_name.example.com", "host")).toMatch(/label 1 is "host_name"/);
    expect(nameProblem("-a.example.com", "host")).toMatch(/inner hyphens/);
    expect(nameProblem("a.example.com.", "host")).toBeUndefined();
    // service (config srv names): `_label`s allowed, other underscores not.
    expect(nameProblem("_grpc._tcp.svc.example.com", "service")).toBeUndefined();
    expect(nameProblem("_grpc._tcp.s_vc.example.com", "service")).toMatch(/label 3 is "s_vc"/);
  });

  it("the cache refuses exactly what the resolver refuses", () => {
    for (const bad of ["a..b", "", "a b.com", `${"a".repeat(64)}.com`, "a/b.com", "x\\.y.com"]) {
      expect(nameProblem(bad), bad).toBeDefined();
      expect(() => cacheNormalize(bad), bad).toThrow(expect.objectContaining({ code: "ERR_CACHE_BAD_NAME" }));
    }
    expect(cacheNormalize("_Grpc._tcp.Example.com")).toBe("_grpc._tcp.example.com.");
  });

  it("config names use the host and service rules", () => {
    expect(() =>
      parseConfigText("clusters: [{ name: a, dns: { name: a_b.example.com, port: 80 } }]\n", noResolvConf),
    ).toThrow(/label 1 is "a_b"/);
    const c = parseConfigText("clusters: [{ name: a, srv: { name: _x._tcp.example.com } }]\n", noResolvConf);
    expect(c.clusters[0]?.sources[0]).toMatchObject({ kind: "srv", name: "_x._tcp.example.com" });
  });
});

describe("one host:port parser", () => {
  it("config and resolver read the same addresses the same way", () => {
    expect(parseHostPort("[::1]:53", { requireIp: true })).toEqual({
      ok: true,
      value: { host: "::1", port: 53, family: 6 },
    });
    expect(parseServerAddress("[::1]:53")).toMatchObject({ host: "::1", port: 53, key: "[::1]:53" });
    expect(parseHostPort("10.0.0.2", { defaultPort: 53, requireIp: true })).toMatchObject({
      ok: true,
      value: { port: 53 },
    });
    // Only the resolver takes a bare IPv6 address; the config asks for brackets.
    expect(parseHostPort("::1", { defaultPort: 53, requireIp: true }).ok).toBe(false);
    expect(parseServerAddress("::1")).toMatchObject({ key: "[::1]:53" });
    expect(() => parseServerAddress("dns.example.com:53")).toThrow(/expected an IP address/);
  });
});

describe("one resolv.conf reader", () => {
  it("skips scoped link-local servers and keeps at most three, for the resolver and the config alike", () => {
    const text =
      "nameserver fe80::1%eth0\nnameserver 10.0.0.1\nnameserver ::1\nnameserver 10.0.0.2\nnameserver 10.0.0.3\n";
    expect(parseResolvConf(text).servers).toEqual(["10.0.0.1:53", "[::1]:53", "10.0.0.2:53"]);
    const c = parseConfigText("clusters: []\n", { readResolvConf: () => text });
    expect(c.dns.servers).toEqual(["10.0.0.1:53", "[::1]:53", "10.0.0.2:53"]);
  });
});

describe("one backoff", () => {
  it("doubles from the base to the cap, and jitter only ever shortens a delay", () => {
    const o = { baseMs: 100, maxMs: 1000 };
    expect([0, 1, 2, 3, 4, 10, 1000].map((n) => backoffDelay(n, o))).toEqual([
      100, 200, 400, 800, 1000, 1000, 1000,
    ]);
    expect(backoffDelay(2, { ...o, jitter: 0.5, random: () => 0 })).toBe(400);
    expect(backoffDelay(2, { ...o, jitter: 0.5, random: () => 0.999999 })).toBeCloseTo(200, 2);
    expect(backoffDelay(-3, o)).toBe(100);
  });
});
