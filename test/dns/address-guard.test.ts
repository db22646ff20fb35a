import net from "node:net";
import { describe, expect, it, vi } from "vitest";
import { AddressGuard, embeddedIpv4, ipv6Words } from "../../src/dns/address-guard.js";
import { ClusterInputScreen } from "../../src/endpoints/cluster-input-screen.js";
import type { EndpointCandidate } from "../../src/endpoints/endpoint-candidates.js";
import { cluster } from "../endpoints/fixtures.js";

const guard = new AddressGuard();

describe("rebinding guard: built-in set, on by default", () => {
  it.each([
    ["127.0.0.1", "loopback"],
    ["127.255.255.254", "loopback"],
    ["::1", "loopback"],
    ["0.0.0.0", "unspecified"],
    ["0.1.2.3", "unspecified"],
    ["::", "unspecified"],
    ["169.254.169.254", "metadata"],
    ["169.254.170.2", "metadata"],
    ["100.100.100.200", "metadata"],
    ["fd00:ec2::254", "metadata"],
    ["169.254.1.1", "link-local"],
    ["fe80::1", "link-local"],
    ["febf:ffff::1", "link-local"],
    ["224.0.0.1", "multicast"],
    ["239.255.255.250", "multicast"],
    ["ff02::1", "multicast"],
    ["255.255.255.255", "broadcast"],
  ])("denies %s (%s)", (address, why) => {
    expect(guard.check(address)).toBe(why);
  });

  it.each([
    // IPv4-mapped, in both spellings.
    ["::ffff:127.0.0.1", "loopback"],
    ["::ffff:7f00:1", "loopback"],
    ["::ffff:169.254.169.254", "metadata"],
    ["::ffff:a9fe:a9fe", "metadata"],
    ["0:0:0:0:0:ffff:0.0.0.0", "unspecified"],
    ["::ffff:224.0.0.5", "multicast"],
    // IPv4-compatible (deprecated), NAT64 (well-known and local-use), 6to4.
    ["::127.0.0.1", "loopback"],
    ["::a9fe:a9fe", "metadata"],
    ["64:ff9b::169.254.169.254", "metadata"],
    ["64:ff9b::7f00:1", "loopback"],
    ["64:ff9b:1::a9fe:a9fe", "metadata"],
    ["2002:a9fe:a9fe::1", "metadata"],
    ["2002:7f00:1::", "loopback"],
  ])("denies the IPv4-in-IPv6 form %s (%s)", (address, why) => {
    expect(guard.check(address)).toBe(why);
  });

  it.each([
    "10.0.0.1",
    "172.16.5.4",
    "192.168.1.1",
    "100.64.0.1",
    "8.8.8.8",
    "fd00::1",
    "fc00::5",
    "2001:db8::1",
    "::ffff:10.0.0.1",
    "64:ff9b::8.8.8.8",
    "fe00::1",
    "fec0::1",
  ])("allows %s (private ranges stay allowed: backends live there)", (address) => {
    expect(guard.check(address)).toBeUndefined();
  });

  it("denies anything that is not an IP literal", () => {
    expect(guard.check("localhost")).toBe("denied-range");
    expect(guard.check("")).toBe("denied-range");
    expect(guard.check("1.2.3")).toBe("denied-range");
  });

  it("allowLoopback lifts loopback only, in every spelling", () => {
    const g = new AddressGuard({ allowLoopback: true });
    for (const a of ["127.0.0.1", "127.9.9.9", "::1", "::ffff:127.0.0.1", "64:ff9b::7f00:1"])
      expect(g.check(a), a).toBeUndefined();
    for (const a of ["169.254.169.254", "0.0.0.0", "::", "fe80::1", "224.0.0.1", "::ffff:169.254.169.254"])
      expect(g.check(a), a).toBeDefined();
  });

  it("denies extra ranges, also through an embedded IPv4 address", () => {
    const g = new AddressGuard({ denyRanges: ["10.99.0.0/16", "fd12::/16"] });
    expect(g.check("10.99.1.2")).toBe("denied-range");
    expect(g.check("::ffff:10.99.1.2")).toBe("denied-range");
    expect(g.check("64:ff9b::a63:102")).toBe("denied-range");
    expect(g.check("fd12:1::1")).toBe("denied-range");
    expect(g.check("10.98.1.2")).toBeUndefined();
  });

  it("parses IPv6 text into words the way the kernel reads it", () => {
    expect(ipv6Words("::ffff:1.2.3.4")).toEqual([0, 0, 0, 0, 0, 0xffff, 0x0102, 0x0304]);
    expect(ipv6Words("1:2:3:4:5:6:7.8.9.10")).toEqual([1, 2, 3, 4, 5, 6, 0x0708, 0x090a]);
    expect(ipv6Words("fe80::1%eth0")).toEqual([0xfe80, 0, 0, 0, 0, 0, 0, 1]);
    expect(ipv6Words("::")).toEqual([0, 0, 0, 0, 0, 0, 0, 0]);
    expect(ipv6Words("1.2.3.4")).toBeUndefined();
    expect(embeddedIpv4([0x2001, 0xdb8, 0, 0, 0, 0, 0, 1])).toBeUndefined();
  });
});

/**
 * The guard remembers what it decided, because a cluster is screened on every rebuild with mostly the
 * same addresses. A zone that keeps changing must not make that memory grow: the first 30-minute soak
 * (one record swapped every 200 ms) held 100,000 dead address strings per cluster this way.
 */
describe("rebinding guard memo", () => {
  const v4 = (i: number): string => `10.${(i >>> 16) & 255}.${(i >>> 8) & 255}.${i & 255}`;
  const candidate = (address: string): EndpointCandidate => ({
    key: `${address}|8080`,
    sourceIndex: 0,
    host: "svc.example.com.",
    address,
    port: 8080,
    family: 4,
    srvPriority: 0,
    weight: 1,
    metadata: {},
  });

  it("stays bounded however many distinct addresses it is asked about", () => {
    const g = new AddressGuard();
    for (let i = 0; i < 200_000; i++) g.check(v4(i));
    expect(g.remembered).toBeLessThanOrEqual(2 * 1024);
    // Still right after rotating many times.
    expect(g.check("127.0.0.1")).toBe("loopback");
    expect(g.check(v4(5))).toBeUndefined();
  });

  it("re-classifies only the new addresses of a churning cluster, and forgets the ones DNS dropped", () => {
    const screen = new ClusterInputScreen();
    const spec = cluster({ allowLoopback: false });
    const steady = Array.from({ length: 3000 }, (_, i) => candidate(v4(i)));
    let next = 1_000_000;
    const isIp = vi.spyOn(net, "isIP");
    try {
      const classifiedPerPass: number[] = [];
      for (let pass = 0; pass < 40; pass++) {
        const fresh = Array.from({ length: 500 }, () => candidate(v4(next++)));
        isIp.mockClear();
        const out = screen.screen(spec, [undefined], [...steady, ...fresh]);
        expect(out).toHaveLength(3500);
        classifiedPerPass.push(isIp.mock.calls.length);
      }
      // The first pass classifies everything; after that, only the 500 new addresses each time.
      expect(classifiedPerPass[0]).toBe(3500);
      expect(classifiedPerPass.slice(1).every((n) => n === 500)).toBe(true);
      // 40 × 500 = 20,000 addresses came and went; the memo holds at most two generations of 7,000.
      const guard = (screen as unknown as { guard: AddressGuard }).guard;
      expect(guard.remembered).toBeLessThanOrEqual(14_000);
    } finally {
      isIp.mockRestore();
    }
  });

  it("keeps a small cluster's memo small: each cluster has a guard of its own", () => {
    // The soak's shape: 10 addresses, one replaced on every rebuild, many rebuilds. At a fixed floor
    // of 1,024 per generation 100 such clusters held 200,000 addresses.
    const screen = new ClusterInputScreen();
    const spec = cluster({ allowLoopback: false });
    const steady = Array.from({ length: 9 }, (_, i) => candidate(v4(i)));
    for (let pass = 0; pass < 5000; pass++) {
      const out = screen.screen(spec, [undefined], [...steady, candidate(v4(1_000_000 + pass))]);
      expect(out).toHaveLength(10);
    }
    const guard = (screen as unknown as { guard: AddressGuard }).guard;
    expect(guard.remembered).toBeLessThanOrEqual(64);
  });
});
