// Unit checks of the pieces under the resolver: strict decoding edge cases, name validation and 0x20,
// resolv.conf parsing, server address parsing, the server pool's backoff/probing with an injected
// clock, the in-flight limiter and singleflight.
import dnsPacket from "dns-packet";
import { describe, expect, it } from "vitest";
import { InflightLimiter } from "../../src/dns/inflight-limiter.js";
import { isValidName, nameProblem, normalizeName, randomizeCase } from "../../src/dns/name-validation.js";
import { encodeQuery } from "../../src/dns/query-encoder.js";
import { parseResolvConf } from "../../src/dns/resolv-conf.js";
import { parseServerAddress } from "../../src/dns/server-address.js";
import { DOWN_BACKOFF_JITTER, ServerPool } from "../../src/dns/server-pool.js";
import { Singleflight } from "../../src/dns/singleflight.js";
import { decodeMessage, formatIpv6 } from "../../src/dns/wire-decoder.js";

function header(id: number, flags: number, qd: number, an: number, ns = 0, ar = 0): number[] {
  return [id >> 8, id & 255, flags >> 8, flags & 255, 0, qd, 0, an, 0, ns, 0, ar];
}
const qname = [3, 0x61, 0x62, 0x63, 4, 0x74, 0x65, 0x73, 0x74, 0]; // abc.test
const question = [...qname, 0, 1, 0, 1];

describe("wire decoder", () => {
  it("decodes a compressed A answer", () => {
    const buf = Buffer.from([
      ...header(1, 0x8180, 1, 1),
      ...question,
      0xc0,
      12,
      0,
      1,
      0,
      1,
      0,
      0,
      0,
      9,
      0,
      4,
      1,
      2,
      3,
      4,
    ]);
    const d = decodeMessage(buf);
    expect(d.ok && d.msg.answers[0]).toMatchObject({
      name: "abc.test.",
      ttl: 9,
      data: { address: "1.2.3.4" },
    });
  });

  it("gives every owner the name its own pointer leads to when owners share targets", () => {
    // Owners point at three targets (abc.test. at 12, test. at 16 inside it, x.abc.test. at 26) in mixed
    // order: names read once per target must still be the name of that target, not of the last one.
    const a = (owner: number[], last: number) => [...owner, 0, 1, 0, 1, 0, 0, 0, 9, 0, 4, 10, 0, 0, last];
    const buf = Buffer.from([
      ...header(1, 0x8180, 1, 6),
      ...question,
      ...a([1, 0x78, 0xc0, 12], 1), // at 26: x.abc.test.
      ...a([0xc0, 12], 2),
      ...a([0xc0, 26], 3),
      ...a([0xc0, 16], 4),
      ...a([0xc0, 12], 5),
      ...a([0xc0, 26], 6),
    ]);
    const d = decodeMessage(buf);
    expect(d.ok && d.msg.answers.map((r) => [r.name, r.data.kind === "A" && r.data.address])).toEqual([
      ["x.abc.test.", "10.0.0.1"],
      ["abc.test.", "10.0.0.2"],
      ["x.abc.test.", "10.0.0.3"],
      ["test.", "10.0.0.4"],
      ["abc.test.", "10.0.0.5"],
      ["x.abc.test.", "10.0.0.6"],
    ]);
    // A pointer to itself is refused even after its target's name was read once.
    const looping = Buffer.from([
      ...header(1, 0x8180, 1, 2),
      ...question,
      ...a([0xc0, 12], 1),
      ...a([0xc0, 42], 2),
    ]);
    expect(decodeMessage(looping)).toEqual({ ok: false, reason: "bad-pointer" });
  });

  it("rejects forward and self pointers (no loops)", () => {
    const self = Buffer.from([
      ...header(1, 0x8180, 1, 1),
      ...question,
      0xc0,
      29,
      0,
      1,
      0,
      1,
      0,
      0,
      0,
      9,
      0,
      4,
      1,
      2,
      3,
      4,
    ]);
    expect(decodeMessage(self)).toEqual({ ok: false, reason: "bad-pointer" });
    const fwd = Buffer.from([...header(1, 0x8180, 1, 0), 0xc0, 14, 0, 0, 1, 0, 1]);
    expect(decodeMessage(fwd)).toMatchObject({ ok: false });
  });

  it("rejects a name longer than 255 octets", () => {
    const labels: number[] = [];
    for (let i = 0; i < 5; i++) labels.push(63, ...new Array(63).fill(0x61));
    const buf = Buffer.from([...header(1, 0x8180, 1, 0), ...labels, 0, 0, 1, 0, 1]);
    expect(decodeMessage(buf)).toEqual({ ok: false, reason: "name-too-long" });
  });

  it("escapes a label containing a dot so it cannot pose as two labels", () => {
    const buf = Buffer.from([
      ...header(1, 0x8180, 1, 1),
      ...question,
      8,
      0x61,
      0x62,
      0x63,
      0x2e,
      0x74,
      0x65,
      0x73,
      0x74,
      0,
      0,
      1,
      0,
      1,
      0,
      0,
      0,
      9,
      0,
      4,
      1,
      2,
      3,
      4,
    ]);
    const d = decodeMessage(buf);
    expect(d.ok && d.msg.answers[0]?.name).toBe("abc\\046test.");
  });

  it("reads a TTL with the top bit set as 0 and an extended rcode from OPT", () => {
    const opt = [0, 0, 41, 0x04, 0xd0, 1, 0, 0, 0, 0, 0];
    const buf = Buffer.from([
      ...header(1, 0x8181, 1, 1, 0, 1),
      ...question,
      0xc0,
      12,
      0,
      1,
      0,
      1,
      0x80,
      0,
      0,
      1,
      0,
      4,
      1,
      2,
      3,
      4,
      ...opt,
    ]);
    const d = decodeMessage(buf);
    expect(d.ok).toBe(true);
    if (!d.ok) return;
    expect(d.msg.answers[0]?.ttl).toBe(0);
    expect(d.msg.rcode).toBe((1 << 4) | 1);
    expect(d.msg.ednsUdpSize).toBe(1232);
  });

  it("rejects OPT outside the additional section and a second OPT", () => {
    const opt = [0, 0, 41, 0x04, 0xd0, 0, 0, 0, 0, 0, 0];
    expect(decodeMessage(Buffer.from([...header(1, 0x8180, 1, 1), ...question, ...opt]))).toEqual({
      ok: false,
      reason: "bad-opt",
    });
    expect(
      decodeMessage(Buffer.from([...header(1, 0x8180, 1, 0, 0, 2), ...question, ...opt, ...opt])),
    ).toEqual({
      ok: false,
      reason: "bad-opt",
    });
  });

  it("rejects SRV and CNAME whose name does not fill RDLENGTH exactly", () => {
    const cname = [0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 9, 0, 3, 0xc0, 12, 0];
    expect(decodeMessage(Buffer.from([...header(1, 0x8180, 1, 1), ...question, ...cname]))).toEqual({
      ok: false,
      reason: "bad-rdlength",
    });
    const srv = [0xc0, 12, 0, 33, 0, 1, 0, 0, 0, 9, 0, 9, 0, 1, 0, 1, 0, 80, 0xc0, 12, 0];
    expect(decodeMessage(Buffer.from([...header(1, 0x8180, 1, 1), ...question, ...srv]))).toEqual({
      ok: false,
      reason: "bad-rdlength",
    });
  });

  it("reads A and AAAA addresses as RFC 5952 / dotted text, the same on every read", () => {
    // The decoder keeps addresses as numbers and makes the text on first read; the text must be what
    // it was when made eagerly (these expectations are the eager decoder's output).
    const cases: [type: 1 | 28, hex: string, text: string][] = [
      [1, "0a000001", "10.0.0.1"],
      [1, "00000000", "0.0.0.0"],
      [1, "ffffffff", "255.255.255.255"],
      [1, "c0a8010a", "192.168.1.10"],
      [28, "00000000000000000000000000000000", "::"],
      [28, "00000000000000000000000000000001", "::1"],
      [28, "00010000000000000000000000000000", "1::"],
      // Leading zeros of each group dropped, lower case.
      [28, "20010db8000a00b00c00000d0000000e", "2001:db8:a:b0:c00:d:0:e"],
      [28, "00010002000300040005000600070008", "1:2:3:4:5:6:7:8"],
      [28, "abcdef01234567890000000000000000", "abcd:ef01:2345:6789::"],
      // The longest zero run is compressed, not the first.
      [28, "00010000000000020000000000000003", "1:0:0:2::3"],
      // Runs of equal length: the first one.
      [28, "20010db8000000000001000000000001", "2001:db8::1:0:0:1"],
      // A single zero group is never "::".
      [28, "20010db8000000010001000100010001", "2001:db8:0:1:1:1:1:1"],
      [28, "fe800000000000000000000000000000", "fe80::"],
      // IPv4-mapped: printed as hex words, as formatIpv6 always has.
      [28, "00000000000000000000ffff01020304", "::ffff:102:304"],
      [28, "00000000000000000000ffffc0a8010a", "::ffff:c0a8:10a"],
    ];
    const rr = ([type, hex]: [number, string, string]) => {
      const rdata = [...Buffer.from(hex, "hex")];
      return [0xc0, 12, 0, type, 0, 1, 0, 0, 0, 9, 0, rdata.length, ...rdata];
    };
    const buf = Buffer.from([...header(1, 0x8180, 1, cases.length), ...question, ...cases.flatMap(rr)]);
    const d = decodeMessage(buf);
    if (!d.ok) throw new Error(`decode failed: ${d.reason}`);
    const data = d.msg.answers.map((r) => r.data);
    expect(data.map((x) => x.kind)).toEqual(cases.map(([t]) => (t === 1 ? "A" : "AAAA")));
    const read = () => data.map((x) => (x.kind === "A" || x.kind === "AAAA" ? x.address : ""));
    const first = read();
    expect(first).toEqual(cases.map(([, , text]) => text));
    expect(read()).toEqual(first);
    // formatIpv6 on the bytes says the same.
    for (const [type, hex, text] of cases)
      if (type === 28) expect(formatIpv6(Buffer.from(hex, "hex"), 0)).toBe(text);
  });

  it("formats IPv6 in RFC 5952 form", () => {
    const b = Buffer.alloc(16);
    expect(formatIpv6(b, 0)).toBe("::");
    b[15] = 1;
    expect(formatIpv6(b, 0)).toBe("::1");
    const c = Buffer.from("20010db8000000010000000000000001", "hex");
    expect(formatIpv6(c, 0)).toBe("2001:db8:0:1::1");
    const d = Buffer.from("20010db8000100010001000100010001", "hex");
    expect(formatIpv6(d, 0)).toBe("2001:db8:1:1:1:1:1:1");
  });
});

describe("names", () => {
  it("validates labels and length", () => {
    expect(isValidName("_grpc._tcp.svc.example.com.")).toBe(true);
    expect(nameProblem("a..b")).toBe("empty label");
    expect(nameProblem("")).toBe("empty name");
    expect(nameProblem(".")).toBe("empty name");
    expect(nameProblem(`${"a".repeat(64)}.com`)).toMatch(/label longer/);
    expect(nameProblem(`${"a.".repeat(126)}ab`)).toMatch(/name longer/);
    expect(isValidName(`${"a.".repeat(125)}abc`)).toBe(true);
    expect(nameProblem("a b.com")).toMatch(/characters/);
    expect(nameProblem("a\\.b.com")).toMatch(/characters/);
    expect(normalizeName("API.Example.COM")).toBe("api.example.com.");
    expect(() => normalizeName("bad..name")).toThrow(expect.objectContaining({ code: "ERR_DNS_BAD_NAME" }));
  });

  it("0x20 changes only letter case", () => {
    const out = randomizeCase("abc-123_x.example.com.", new Uint8Array([0b10101010, 0xff, 0]));
    expect(out.toLowerCase()).toBe("abc-123_x.example.com.");
    expect(out).not.toBe("abc-123_x.example.com.");
  });
});

describe("config parsing", () => {
  it("parses resolv.conf nameservers and options", () => {
    const c = parseResolvConf(
      "# comment\nnameserver 10.0.0.1\nnameserver fe80::1%eth0\nsearch x\noptions ndots:2 timeout:3 attempts:4\nnameserver bogus\n",
    );
    // The scoped link-local server is skipped: without its zone it is unusable.
    expect(c).toEqual({ servers: ["10.0.0.1:53"], timeoutMs: 3000, attempts: 4 });
    expect(parseResolvConf("options timeout:99 attempts:0")).toMatchObject({
      timeoutMs: 30_000,
      attempts: 1,
      servers: [],
    });
  });

  it("parses server addresses", () => {
    expect(parseServerAddress("127.0.0.1")).toMatchObject({
      host: "127.0.0.1",
      port: 53,
      family: 4,
      key: "127.0.0.1:53",
    });
    expect(parseServerAddress("[::1]:5353")).toMatchObject({
      host: "::1",
      port: 5353,
      family: 6,
      key: "[::1]:5353",
    });
    expect(parseServerAddress("0:0:0:0:0:0:0:1")).toMatchObject({ host: "::1", port: 53 });
    for (const bad of ["", "host:53", "1.2.3.4:0", "1.2.3.4:x", "[::1", "[::1]x"]) {
      expect(() => parseServerAddress(bad)).toThrow(expect.objectContaining({ code: "ERR_DNS_BAD_CONFIG" }));
    }
  });
});

describe("server pool", () => {
  const addr = (p: number) => parseServerAddress(`127.0.0.1:${p}`);
  it("backs off exponentially with jitter, probes once after the down time, recovers", () => {
    let now = 1000;
    let rnd = 0;
    const pool = new ServerPool([addr(1), addr(2)], {
      now: () => now,
      random: () => rnd,
      backoffBaseMs: 100,
      backoffMaxMs: 350,
    });
    const [p, b] = pool.servers as [
      NonNullable<(typeof pool.servers)[0]>,
      NonNullable<(typeof pool.servers)[0]>,
    ];
    pool.failed(p);
    expect(p.downUntil).toBe(1100);
    expect(pool.plan().map((c) => c.state)).toEqual([b, p]);
    now = 1100;
    const plan = pool.plan();
    expect(plan[0]).toMatchObject({ state: p, probe: true });
    // Only one probe at a time: a concurrent plan puts the primary last.
    expect(pool.plan().map((c) => c.state)).toEqual([b, p]);
    pool.failed(p);
    expect(p.downUntil).toBe(1300);
    rnd = 1;
    pool.failed(p);
    // 100·2² = 400 is capped at 350, then the full jitter takes half of it.
    expect(p.downUntil).toBe(1100 + 350 * (1 - DOWN_BACKOFF_JITTER));
    rnd = 0;
    pool.failed(p);
    expect(p.downUntil - now).toBe(350);
    pool.succeeded(p);
    expect(pool.plan().map((c) => c.state)).toEqual([p, b]);
  });
});

describe("in-flight limiter and singleflight", () => {
  it("limits, queues in order, and bounds the queue", async () => {
    const lim = new InflightLimiter(2, 1);
    const r1 = await lim.acquire();
    await lim.acquire();
    const third = lim.acquire();
    await expect(lim.acquire()).rejects.toMatchObject({ code: "ERR_DNS_OVERLOADED" });
    expect(lim.inFlight).toBe(2);
    r1();
    r1();
    await third;
    expect(lim.inFlight).toBe(2);
  });

  it("shares work and aborts it only when every caller left", async () => {
    const sf = new Singleflight<number>();
    let runs = 0;
    let innerAborted = false;
    const work = (signal: AbortSignal | undefined) =>
      new Promise<number>((resolve) => {
        runs++;
        signal?.addEventListener("abort", () => {
          innerAborted = true;
        });
        setTimeout(() => resolve(7), 30);
      });
    const a = new AbortController();
    const b = new AbortController();
    const p1 = sf.do("k", work, a.signal);
    const p2 = sf.do("k", work, b.signal);
    a.abort();
    await expect(p1).rejects.toMatchObject({ code: "ERR_DNS_ABORTED" });
    expect(innerAborted).toBe(false);
    b.abort();
    await expect(p2).rejects.toMatchObject({ code: "ERR_DNS_ABORTED" });
    expect(innerAborted).toBe(true);
    expect(runs).toBe(1);
    expect(await sf.do("k", work)).toBe(7);
    expect(runs).toBe(2);
  });
});

describe("query encoder", () => {
  it("produces exactly dns-packet's bytes for the same query", () => {
    const names = ["a.test", "API.Example.COM.", "_grpc._tcp.svc-1.example.test", `${"x".repeat(63)}.y`, "c"];
    for (const name of names) {
      for (const type of ["A", "AAAA", "SRV", "TXT"] as const) {
        for (const edns of [0, 1232, 4096]) {
          const ours = encodeQuery({ id: 0xbeef, name, type, ednsUdpSize: edns });
          const ref = dnsPacket.encode({
            type: "query",
            id: 0xbeef,
            flags: dnsPacket.RECURSION_DESIRED,
            questions: [{ type, name, class: "IN" }],
            ...(edns > 0
              ? { additionals: [{ type: "OPT", name: ".", udpPayloadSize: edns } as dnsPacket.Answer] }
              : {}),
          });
          expect(ours.toString("hex")).toBe(ref.toString("hex"));
        }
      }
    }
  });
});
