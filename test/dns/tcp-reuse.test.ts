// TCP connections to a DNS server are kept and reused (RFC 7766 §6.2.1), against a programmable fake for
// what a real server does only by chance: replies out of order, a reply nobody asked for, a connection
// closed just as a query goes out on it, a zero-length frame. The BIND side (real pipelining) is in
// resolver-bind.test.ts.
import dgram from "node:dgram";
import net from "node:net";
import dnsPacket from "dns-packet";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { RejectReason } from "../../src/dns/message-validator.js";
import { createResolver, type DnsResolver, type ResolverOptions } from "../../src/dns/resolver.js";
import {
  aRecord,
  type FakeContext,
  type FakeDnsServer,
  type FakeQuery,
  replyTo,
  startFakeDnsServer,
} from "./support/fake-dns-server.js";

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** Each name gets its own address, so a reply delivered to the wrong lookup shows. */
const addressOf = (name: string) => `127.0.0.${(name.charCodeAt(1) % 200) + 10}`;

describe("TCP connection reuse", () => {
  let fake: FakeDnsServer;
  const open: DnsResolver[] = [];
  const rejected: RejectReason[] = [];
  let sockets: net.Socket[] = [];
  /** A resolver whose TCP sockets the test can see (the fake truncates every UDP reply). */
  const mkTruncating = (o: Partial<ResolverOptions> = {}) => {
    const r = createResolver({
      servers: [fake.server],
      timeoutMs: 1000,
      attempts: 1,
      metrics: { rejected: (why) => rejected.push(why) },
      socketFactory: {
        udp: (type) => dgram.createSocket({ type }),
        tcp: (opts) => {
          const s = net.connect(opts);
          sockets.push(s);
          return s;
        },
      },
      ...o,
    });
    open.push(r);
    return r;
  };
  const tcpQueries = () => fake.queries.filter((q) => q.transport === "tcp");
  const answer = (q: FakeQuery, c: FakeContext) => c.reply(replyTo(q, [aRecord(q.name, addressOf(q.name))]));

  beforeAll(async () => {
    fake = await startFakeDnsServer();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
    rejected.length = 0;
    fake.queries.length = 0;
    sockets = [];
  });
  afterAll(async () => {
    await fake.close();
  });

  const truncateUdp = (q: FakeQuery, c: FakeContext) =>
    c.reply(replyTo(q, [], { flags: dnsPacket.TRUNCATED_RESPONSE }));

  it("a name's repeated lookups over TCP share one connection", async () => {
    fake.setHandler((q, c) => (q.transport === "udp" ? truncateUdp(q, c) : answer(q, c)));
    const r = mkTruncating();
    for (let i = 0; i < 4; i++) {
      const a = await r.resolve("big.test", "A");
      expect(a.records).toEqual([{ type: "A", address: addressOf("big.test"), ttl: 60 }]);
    }
    expect(tcpQueries()).toHaveLength(4);
    expect(new Set(tcpQueries().map((q) => q.port)).size).toBe(1);
    expect(sockets).toHaveLength(1);
  });

  it("pipelines concurrent queries on one connection and matches replies sent in reverse order", async () => {
    const held: Array<() => void> = [];
    fake.setHandler((q, c) => {
      if (q.transport === "udp") return truncateUdp(q, c);
      held.push(() => answer(q, c));
      // All three are outstanding at once; the server answers the last first.
      if (held.length === 3) for (const send of held.splice(0).reverse()) send();
    });
    const r = mkTruncating();
    const names = ["a1.test", "b2.test", "c3.test"];
    const answers = await Promise.all(names.map((n) => r.resolve(n, "A")));
    answers.forEach((a, i) => {
      expect(a.records).toEqual([{ type: "A", address: addressOf(names[i] as string), ttl: 60 }]);
    });
    expect(new Set(tcpQueries().map((q) => q.port)).size).toBe(1);
    expect(sockets).toHaveLength(1);
  });

  it("a reply that matches no outstanding query is dropped and counted; the awaited reply still lands", async () => {
    fake.setHandler((q, c) => {
      if (q.transport === "udp") return truncateUdp(q, c);
      c.reply(replyTo(q, [aRecord(q.name, "6.6.6.6")], { id: q.id ^ 0x5555 }));
      answer(q, c);
    });
    const a = await mkTruncating().resolve("good.test", "A");
    expect(a.records).toEqual([{ type: "A", address: addressOf("good.test"), ttl: 60 }]);
    expect(rejected).toContain("id-mismatch");
  });

  it("a connection the server closes under a query (after it had answered) is replaced once, within the try", async () => {
    let n = 0;
    fake.setHandler((q, c) => {
      if (q.transport === "udp") return truncateUdp(q, c);
      n++;
      // The second TCP query: the server closes the connection instead of answering (its idle timeout
      // racing the query). The query is asked again on a new connection.
      if (n === 2) return c.end();
      answer(q, c);
    });
    const r = mkTruncating();
    await r.resolve("first.test", "A");
    const a = await r.resolve("second.test", "A");
    expect(a.records).toEqual([{ type: "A", address: addressOf("second.test"), ttl: 60 }]);
    const ports = tcpQueries().map((q) => q.port);
    expect(ports).toHaveLength(3);
    expect(ports[1]).toBe(ports[0]);
    expect(ports[2]).not.toBe(ports[1]);
    // Such a server is then asked on a connection per query for a while: no third reuse to lose.
    await r.resolve("third.test", "A");
    await r.resolve("fourth.test", "A");
    const later = tcpQueries().map((q) => q.port);
    expect(new Set(later.slice(2)).size).toBe(3);
  });

  it("a connection that closes before it ever answered is not retried: the try fails as a network error", async () => {
    fake.setHandler((q, c) => (q.transport === "udp" ? truncateUdp(q, c) : c.end()));
    await expect(mkTruncating().resolve("broken.test", "A")).rejects.toMatchObject({
      code: "ERR_DNS_NETWORK",
    });
    expect(tcpQueries()).toHaveLength(1);
  });

  it("a zero-length frame after a reply closes the connection; the reply stands and the next query opens a new one", async () => {
    fake.setHandler((q, c) => {
      if (q.transport === "udp") return truncateUdp(q, c);
      const full = replyTo(q, [aRecord(q.name, addressOf(q.name))]);
      // The reply, then ten bytes of zeros: the next frame's length prefix reads 0.
      const framed = Buffer.alloc(full.length + 2 + 10);
      framed.writeUInt16BE(full.length, 0);
      full.copy(framed, 2);
      c.writeRaw(framed);
    });
    const r = mkTruncating();
    const a = await r.resolve("zero.test", "A");
    expect(a.records).toEqual([{ type: "A", address: addressOf("zero.test"), ttl: 60 }]);
    await r.resolve("zero2.test", "A");
    expect(rejected).toContain("tcp-framing");
    expect(new Set(tcpQueries().map((q) => q.port)).size).toBe(2);
  });

  it("a query that timed out retires its connection: the next query goes on a new one", async () => {
    let n = 0;
    fake.setHandler((q, c) => {
      if (q.transport === "udp") return truncateUdp(q, c);
      n++;
      if (n !== 2) answer(q, c);
    });
    const r = mkTruncating({ timeoutMs: 300 });
    await r.resolve("t1.test", "A");
    await expect(r.resolve("t2.test", "A")).rejects.toMatchObject({ code: "ERR_DNS_TIMEOUT" });
    await r.resolve("t3.test", "A");
    const ports = tcpQueries().map((q) => q.port);
    expect(ports[1]).toBe(ports[0]);
    expect(ports[2]).not.toBe(ports[1]);
  });

  it("an idle connection closes after tcpIdleMs; tcpIdleMs 0 opens one per query", async () => {
    fake.setHandler((q, c) => (q.transport === "udp" ? truncateUdp(q, c) : answer(q, c)));
    const r = mkTruncating({ tcpIdleMs: 200 });
    await r.resolve("idle.test", "A");
    const s = sockets[0] as net.Socket;
    // Bounded: closed within 5 s (the idle time is 200 ms) or the test fails.
    const closed = await Promise.race([
      new Promise<boolean>((res) => (s.destroyed ? res(true) : s.once("close", () => res(true)))),
      sleep(5000).then(() => false),
    ]);
    expect(closed).toBe(true);
    const r0 = mkTruncating({ tcpIdleMs: 0 });
    await r0.resolve("once1.test", "A");
    await r0.resolve("once2.test", "A");
    expect(sockets).toHaveLength(3);
    expect(sockets.every((x) => x.destroyed)).toBe(true);
  });

  it("close() closes the connections it kept", async () => {
    fake.setHandler((q, c) => (q.transport === "udp" ? truncateUdp(q, c) : answer(q, c)));
    const r = mkTruncating();
    await r.resolve("kept.test", "A");
    expect((sockets[0] as net.Socket).destroyed).toBe(false);
    await r.close();
    expect((sockets[0] as net.Socket).destroyed).toBe(true);
  });
});
