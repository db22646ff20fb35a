// The resolver against a programmable fake server: what real servers do not do on purpose — silence,
// SERVFAIL, TC, replies from the wrong source, replies wrong in one field, garbage, slow or broken TCP,
// CNAME loops and over-long chains — plus singleflight, abort, 0x20 and the rebinding guard.
import type dgram from "node:dgram";
import dnsPacket from "dns-packet";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RejectReason } from "../../src/dns/message-validator.js";
import { createResolver, type DnsResolver, type ResolverOptions } from "../../src/dns/resolver.js";
import {
  aRecord,
  type FakeDnsServer,
  type FakeQuery,
  replyTo,
  soaRecord,
  spoofSocket,
  startFakeDnsServer,
} from "./support/fake-dns-server.js";

const GOOD = "127.0.0.8";
const EVIL = "6.6.6.6";

describe("resolver against a programmable fake", () => {
  let fake: FakeDnsServer;
  let spoofPort: dgram.Socket;
  let spoofAddr: dgram.Socket;
  const open: DnsResolver[] = [];
  const rejected: RejectReason[] = [];
  const mk = (o: Partial<ResolverOptions> = {}) => {
    const r = createResolver({
      servers: [fake.server],
      timeoutMs: 300,
      attempts: 1,
      metrics: { rejected: (why) => rejected.push(why) },
      ...o,
    });
    open.push(r);
    return r;
  };
  const good = (q: FakeQuery) => replyTo(q, [aRecord(q.name, GOOD)]);

  beforeAll(async () => {
    fake = await startFakeDnsServer();
    spoofPort = await spoofSocket("127.0.0.1");
    spoofAddr = await spoofSocket("127.0.0.2");
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
    rejected.length = 0;
    fake.queries.length = 0;
  });
  afterAll(async () => {
    spoofPort.close();
    spoofAddr.close();
    await fake.close();
  });

  it("times out on silence with ERR_DNS_TIMEOUT after every attempt", async () => {
    fake.setHandler(() => {});
    const r = mk({ attempts: 2 });
    await expect(r.resolve("quiet.test", "A")).rejects.toMatchObject({ code: "ERR_DNS_TIMEOUT" });
    expect(fake.queries).toHaveLength(2);
    // Each try used a fresh query ID.
    expect(fake.queries[0]?.id).not.toBe(fake.queries[1]?.id);
  });

  it("SERVFAIL and REFUSED are errors, never answers", async () => {
    fake.setHandler((q, c) =>
      c.reply(replyTo(q, [], { rcode: q.name.startsWith("sf") ? "SERVFAIL" : "REFUSED" })),
    );
    const r = mk();
    await expect(r.resolve("sf.test", "A")).rejects.toMatchObject({ code: "ERR_DNS_SERVFAIL" });
    await expect(r.resolve("rf.test", "A")).rejects.toMatchObject({ code: "ERR_DNS_REFUSED" });
  });

  it("retries a TC=1 reply over TCP and uses the TCP answer", async () => {
    fake.setHandler((q, c) => {
      if (q.transport === "udp") c.reply(replyTo(q, [], { flags: dnsPacket.TRUNCATED_RESPONSE }));
      else c.reply(replyTo(q, [aRecord(q.name, "127.0.0.30", 77)]));
    });
    const a = await mk().resolve("tc.test", "A");
    expect(a.records).toEqual([{ type: "A", address: "127.0.0.30", ttl: 77 }]);
    expect(fake.queries.map((q) => q.transport)).toEqual(["udp", "tcp"]);
  });

  it("asks a name that answered truncated over TCP first, other names over UDP, for ten minutes", async () => {
    fake.setHandler((q, c) => {
      if (q.transport === "udp" && q.name.startsWith("big"))
        c.reply(replyTo(q, [], { flags: dnsPacket.TRUNCATED_RESPONSE }));
      else c.reply(replyTo(q, [aRecord(q.name, "127.0.0.31", 60)]));
    });
    let now = 1_000_000;
    const r = mk({ now: () => now });
    const transports = () => fake.queries.map((q) => `${q.name} ${q.transport}`);
    await r.resolve("big.test", "A");
    await r.resolve("big.test", "A");
    await r.resolve("small.test", "A");
    // AAAA of the same name has not been seen truncated: it starts over UDP.
    await r.resolve("big.test", "AAAA");
    expect(transports()).toEqual([
      "big.test udp",
      "big.test tcp",
      "big.test tcp",
      "small.test udp",
      "big.test udp",
      "big.test tcp",
    ]);
    // Ten minutes on, the name is tried over UDP again (its answer may have shrunk).
    now += 10 * 60_000;
    const before = fake.queries.length;
    const a = await r.resolve("big.test", "A");
    expect(a.records).toEqual([{ type: "A", address: "127.0.0.31", ttl: 60 }]);
    expect(transports().slice(before)).toEqual(["big.test udp", "big.test tcp"]);
  });

  it("ignores replies from the wrong port or address", async () => {
    fake.setHandler((q) => {
      spoofPort.send(good(q), q.port, q.address);
      spoofAddr.send(good(q), q.port, q.address);
    });
    await expect(mk().resolve("spoofsrc.test", "A")).rejects.toMatchObject({ code: "ERR_DNS_TIMEOUT" });
  });

  const wrongs: Array<[string, (q: FakeQuery) => Buffer, RejectReason]> = [
    ["wrong ID", (q) => replyTo(q, [aRecord(q.name, EVIL)], { id: (q.id + 1) & 0xffff }), "id-mismatch"],
    [
      "wrong question name",
      (q) => replyTo(q, [aRecord(`x${q.name}`, EVIL)], { name: `x${q.name}` }),
      "question-name",
    ],
    [
      "wrong type",
      (q) => {
        const b = replyTo(q, [aRecord(q.name, EVIL)]);
        const qtypeAt = 12 + q.name.length + 2;
        b.writeUInt16BE(28, qtypeAt);
        return b;
      },
      "question-type",
    ],
    [
      "wrong class",
      (q) => {
        const b = replyTo(q, [aRecord(q.name, EVIL)]);
        b.writeUInt16BE(3, 12 + q.name.length + 2 + 2);
        return b;
      },
      "question-class",
    ],
    [
      "QR=0",
      (q) => {
        const b = replyTo(q, [aRecord(q.name, EVIL)]);
        b[2] = (b[2] as number) & 0x7f;
        return b;
      },
      "not-response",
    ],
    ["garbage", () => Buffer.from("this is not a DNS message at all, just bytes"), "id-mismatch"],
    ["0-byte datagram", () => Buffer.alloc(0), "empty"],
    [
      "A with RDLENGTH 8",
      (q) => {
        const b = replyTo(q, [aRecord(q.name, EVIL)]);
        const withExtra = Buffer.concat([b, Buffer.from([1, 2, 3, 4])]);
        withExtra.writeUInt16BE(8, b.length - 6);
        return withExtra;
      },
      "bad-rdlength",
    ],
    [
      "trailing bytes",
      (q) => Buffer.concat([replyTo(q, [aRecord(q.name, EVIL)]), Buffer.from([0])]),
      "trailing-bytes",
    ],
    [
      "QDCOUNT 0",
      (q) => {
        const b = replyTo(q, [aRecord(q.name, EVIL)]);
        b.writeUInt16BE(0, 4);
        return b;
      },
      // Decoded as declared, the question bytes are read as a record and the message no longer fits.
      "truncated",
    ],
  ];

  for (const [label, make, reason] of wrongs) {
    it(`rejects a reply with ${label}, then accepts the real one`, async () => {
      fake.setHandler((q, c) => {
        const bad = make(q);
        // Same ID as the query unless the case is about the ID, so the full checks run.
        if (label === "garbage") bad.writeUInt16BE(q.id, 0);
        c.reply(bad);
        setTimeout(() => c.reply(good(q)), 20);
      });
      const a = await mk().resolve(`w${wrongs.findIndex((w) => w[0] === label)}.test`, "A");
      expect(a.records).toEqual([{ type: "A", address: GOOD, ttl: 60 }]);
      expect(rejected.length).toBeGreaterThanOrEqual(1);
      if (label !== "garbage") expect(rejected).toContain(reason);
    });
  }

  it("a trickling TCP reply is cut off by the per-try timeout, not kept alive byte by byte", async () => {
    const timers: NodeJS.Timeout[] = [];
    let written = 0;
    let total = 0;
    fake.setHandler((q, c) => {
      if (q.transport === "udp") return c.reply(replyTo(q, [], { flags: dnsPacket.TRUNCATED_RESPONSE }));
      const full = replyTo(q, [aRecord(q.name, GOOD)]);
      const framed = Buffer.alloc(full.length + 2);
      framed.writeUInt16BE(full.length, 0);
      full.copy(framed, 2);
      // One byte every 100 ms, all but the last: an idle timer reset by each byte would never fire
      // before the trickle ends; the per-try timeout (500 ms) fires after about five bytes.
      total = framed.length - 1;
      for (let i = 0; i < total; i++) {
        timers.push(
          setTimeout(() => {
            written++;
            c.writeRaw(framed.subarray(i, i + 1));
          }, i * 100),
        );
      }
    });
    try {
      await expect(mk({ timeoutMs: 500 }).resolve("slow.test", "A")).rejects.toMatchObject({
        code: "ERR_DNS_TIMEOUT",
      });
      // Timers fire in due order even on a stalled loop, so this holds however loaded the box is.
      expect(total).toBeGreaterThan(20);
      expect(written).toBeLessThan(total);
    } finally {
      for (const t of timers) clearTimeout(t);
    }
  });

  // Bytes after a TCP reply are the next pipelined frame, not a framing error of this one: see
  // tcp-reuse.test.ts ("a zero-length frame after a reply ...").

  it("a TCP connection closed mid-reply is a network error", async () => {
    fake.setHandler((q, c) => {
      if (q.transport === "udp") return c.reply(replyTo(q, [], { flags: dnsPacket.TRUNCATED_RESPONSE }));
      c.writeRaw(Buffer.from([0, 200, 1, 2, 3]));
      c.end();
    });
    await expect(mk().resolve("cut.test", "A")).rejects.toMatchObject({ code: "ERR_DNS_NETWORK" });
  });

  const cname = (from: string, to: string) => ({ type: "CNAME" as const, name: from, ttl: 60, data: to });

  it("detects a CNAME loop inside one reply and across queries", async () => {
    fake.setHandler((q, c) => {
      if (q.name === "loop1.test")
        c.reply(replyTo(q, [cname("loop1.test", "loop2.test"), cname("loop2.test", "loop1.test")]));
      // One link per reply: the loop spans queries.
      else if (q.name === "x1.test") c.reply(replyTo(q, [cname("x1.test", "x2.test")]));
      else if (q.name === "x2.test") c.reply(replyTo(q, [cname("x2.test", "x1.test")]));
    });
    const r = mk();
    await expect(r.resolve("loop1.test", "A")).rejects.toMatchObject({ code: "ERR_DNS_CNAME_LOOP" });
    await expect(r.resolve("x1.test", "A")).rejects.toMatchObject({ code: "ERR_DNS_CNAME_LOOP" });
  });

  it("follows 12 CNAME links and refuses 13", async () => {
    fake.setHandler((q, c) => {
      const m = /^c(\d+)-(\d+)\.test$/.exec(q.name);
      if (!m) return;
      const [n, len] = [Number(m[1]), Number(m[2])];
      const answers: dnsPacket.Answer[] = [];
      for (let i = n; i < len; i++) answers.push(cname(`c${i}-${len}.test`, `c${i + 1}-${len}.test`));
      answers.push(aRecord(`c${len}-${len}.test`, GOOD));
      c.reply(replyTo(q, answers));
    });
    const r = mk();
    const ok = await r.resolve("c0-12.test", "A");
    expect(ok.records).toEqual([{ type: "A", address: GOOD, ttl: 60 }]);
    await expect(r.resolve("c0-13.test", "A")).rejects.toMatchObject({ code: "ERR_DNS_CNAME_TOO_LONG" });
  });

  it("scrubs records not owned by the query name or its chain", async () => {
    fake.setHandler((q, c) =>
      c.reply(
        replyTo(
          q,
          [aRecord("victim.test", EVIL), aRecord(q.name, GOOD), cname("other.test", "victim.test")],
          {
            additionals: [aRecord(q.name, EVIL)],
            authorities: [soaRecord("evil.test", 1, 1)],
          },
        ),
      ),
    );
    const a = await mk().resolve("scrub.test", "A");
    expect(a.records).toEqual([{ type: "A", address: GOOD, ttl: 60 }]);
  });

  it("negative TTL ignores an SOA that does not enclose the name", async () => {
    fake.setHandler((q, c) =>
      c.reply(replyTo(q, [], { rcode: "NXDOMAIN", authorities: [soaRecord("elsewhere.test", 5, 5)] })),
    );
    const a = await mk().resolve("gone.neg.test", "A");
    expect(a.rcode).toBe(3);
    expect(a.ttl).toBe(0);
    fake.setHandler((q, c) =>
      c.reply(replyTo(q, [], { rcode: "NXDOMAIN", authorities: [soaRecord("neg.test", 500, 40)] })),
    );
    const b = await mk().resolve("gone2.neg.test", "A");
    expect(b.ttl).toBe(40);
  });

  it("shares one query among concurrent lookups of the same name and type", async () => {
    fake.setHandler((q, c) => {
      setTimeout(() => c.reply(good(q)), 50);
    });
    const r = mk();
    const all = await Promise.all(Array.from({ length: 50 }, () => r.resolve("shared.test", "A")));
    expect(all.every((a) => a.records.length === 1)).toBe(true);
    expect(fake.queries).toHaveLength(1);
  });

  it("an aborted lookup rejects with ERR_DNS_ABORTED without hurting a sibling", async () => {
    fake.setHandler((q, c) => {
      setTimeout(() => c.reply(good(q)), 100);
    });
    const r = mk();
    const ac = new AbortController();
    const p1 = r.resolve("abort.test", "A", { signal: ac.signal });
    const p2 = r.resolve("abort.test", "A");
    ac.abort();
    await expect(p1).rejects.toMatchObject({ code: "ERR_DNS_ABORTED" });
    expect((await p2).records).toHaveLength(1);
  });

  it("a lookup aborted before its query left sends nothing (fresh socket or pooled one)", async () => {
    fake.setHandler((q, c) => c.reply(good(q)));
    const r = mk();
    // No pooled socket yet: aborted while its socket connects.
    const ac1 = new AbortController();
    const p1 = r.resolve("early-abort-one.test", "A", { signal: ac1.signal });
    ac1.abort();
    await expect(p1).rejects.toMatchObject({ code: "ERR_DNS_ABORTED" });
    // A barrier instead of a sleep: a query sent after the abort, answered. Had the aborted query left,
    // it would have left first (its send is queued before the barrier's socket even connects), and
    // loopback UDP reaches the fake in send order, so it would be listed before the barrier.
    await r.resolve("barrier-one.test", "A");
    // A pooled socket: aborted before the batched send goes out.
    await r.resolve("warm.test", "A");
    const ac2 = new AbortController();
    const p2 = r.resolve("early-abort-two.test", "A", { signal: ac2.signal });
    ac2.abort();
    await expect(p2).rejects.toMatchObject({ code: "ERR_DNS_ABORTED" });
    await r.resolve("barrier-two.test", "A");
    expect(fake.queries.map((q) => q.name)).toEqual(["barrier-one.test", "warm.test", "barrier-two.test"]);
  });

  it("0x20: randomises case, rejects wrong-case replies, falls back for a server that lowercases", async () => {
    fake.setHandler((q, c) => c.reply(good(q)));
    const r = mk({ use0x20: true });
    await r.resolve("abcdefghijklmnop.test", "A");
    expect(fake.queries[0]?.name).not.toBe("abcdefghijklmnop.test");
    expect(fake.queries[0]?.name.toLowerCase()).toBe("abcdefghijklmnop.test");

    fake.setHandler((q, c) =>
      c.reply(replyTo(q, [aRecord(q.name.toLowerCase(), GOOD)], { name: q.name.toLowerCase() })),
    );
    const r2 = mk({ use0x20: true, timeoutMs: 150 });
    await expect(r2.resolve("lowercasing-one.test", "A")).rejects.toMatchObject({ code: "ERR_DNS_TIMEOUT" });
    expect(rejected).toContain("question-case");
    await expect(r2.resolve("lowercasing-two.test", "A")).rejects.toMatchObject({ code: "ERR_DNS_TIMEOUT" });
    const a = await r2.resolve("lowercasing-three.test", "A");
    expect(a.records).toHaveLength(1);
  });

  it("the rebinding guard drops answers in listed ranges", async () => {
    fake.setHandler((q, c) =>
      c.reply(replyTo(q, [aRecord(q.name, "127.0.0.1"), aRecord(q.name, "10.0.0.1")])),
    );
    const a = await mk({ rebindingGuard: ["127.0.0.0/8", "fd00::/8"] }).resolve("rebind.test", "A");
    expect(a.records).toEqual([{ type: "A", address: "10.0.0.1", ttl: 60 }]);
    expect(rejected).toContain("rebinding");
  });

  it("records the rebinding guard drops do not shorten the answer's TTL", async () => {
    fake.setHandler((q, c) =>
      c.reply(replyTo(q, [aRecord(q.name, "127.0.0.1", 5), aRecord(q.name, "10.0.0.1", 300)])),
    );
    const a = await mk({ rebindingGuard: ["127.0.0.0/8"] }).resolve("rebind-ttl.test", "A");
    expect(a.records).toEqual([{ type: "A", address: "10.0.0.1", ttl: 300 }]);
    expect(a.ttl).toBe(300);
  });

  it("asks again without EDNS when a server answers FORMERR without OPT, and remembers it for a while", async () => {
    const hasOpt = (q: FakeQuery) =>
      (dnsPacket.decode(q.raw).additionals ?? []).some((r) => (r.type as string) === "OPT");
    fake.setHandler((q, c) => c.reply(hasOpt(q) ? replyTo(q, [], { rcode: "FORMERR" }) : good(q)));
    let clock = 1_000_000;
    const r = mk({ now: () => clock });
    const a = await r.resolve("old-server.test", "A");
    expect(a.records).toEqual([{ type: "A", address: GOOD, ttl: 60 }]);
    expect(fake.queries.map(hasOpt)).toEqual([true, false]);
    await r.resolve("old-server-again.test", "A");
    expect(fake.queries.map(hasOpt)).toEqual([true, false, false]);
    // 15 minutes on, EDNS is tried again (the server may have been upgraded); still refused → off again.
    clock += 15 * 60_000;
    await r.resolve("old-server-later.test", "A");
    expect(fake.queries.map(hasOpt)).toEqual([true, false, false, true, false]);

    // A server that answers FORMERR either way is a failed server, not an empty answer.
    fake.setHandler((q, c) => c.reply(replyTo(q, [], { rcode: "FORMERR" })));
    await expect(mk().resolve("broken.test", "A")).rejects.toMatchObject({ code: "ERR_DNS_BAD_RCODE" });
  });

  it("close() ends lookups in flight with ERR_DNS_CLOSED and refuses new ones", async () => {
    fake.setHandler(() => {});
    const r = mk({ timeoutMs: 5000 });
    const pending = r.resolve("closing.test", "A");
    await new Promise((res) => setTimeout(res, 50));
    await r.close();
    await expect(pending).rejects.toMatchObject({ code: "ERR_DNS_CLOSED" });
    await expect(r.resolve("after-close.test", "A")).rejects.toMatchObject({ code: "ERR_DNS_CLOSED" });
  });

  it("a bad server address is a config error", () => {
    expect(() => createResolver({ servers: ["dns.example.com:53"] })).toThrow(
      expect.objectContaining({ code: "ERR_DNS_BAD_CONFIG" }),
    );
    expect(() => createResolver({ servers: ["127.0.0.1:99999"] })).toThrow(
      expect.objectContaining({ code: "ERR_DNS_BAD_CONFIG" }),
    );
  });
});
