// RFC 5452 resistance: during 1,000 lookups, 10,000 injected replies each wrong in exactly one field
// reach the resolver's socket before the real reply; none may be accepted, no lookup may fail, and every
// lookup must get the real answer. Also: 1,000 concurrent queries leave from ≥ 99% distinct ports.
import type dgram from "node:dgram";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { RejectReason } from "../../src/dns/message-validator.js";
import { createResolver } from "../../src/dns/resolver.js";
import {
  aRecord,
  type FakeDnsServer,
  type FakeQuery,
  replyTo,
  spoofSocket,
  startFakeDnsServer,
} from "./support/fake-dns-server.js";

const REAL = "127.0.0.8";
const EVIL = "6.6.6.6";

function qnameEnd(q: FakeQuery): number {
  return 12 + q.name.length + 2;
}

/** Ten forgeries of the reply to `q`, each wrong in exactly one field. */
function forgeries(q: FakeQuery): Array<{ buf: Buffer; via: "server" | "wrong-port" | "wrong-addr" }> {
  const evil = () => replyTo(q, [aRecord(q.name, EVIL)]);
  // Toggle the case of the first letter: wrong only in 0x20 case.
  const flip = (name: string) => name.replace(/[a-zA-Z]/, (c) => String.fromCharCode(c.charCodeAt(0) ^ 0x20));
  const out: Array<{ buf: Buffer; via: "server" | "wrong-port" | "wrong-addr" }> = [];
  out.push({
    buf: replyTo(q, [aRecord(q.name, EVIL)], { id: (q.id + 1 + Math.floor(Math.random() * 65534)) & 0xffff }),
    via: "server",
  });
  out.push({
    buf: replyTo(q, [aRecord(`z${q.name.slice(1)}`, EVIL)], { name: `z${q.name.slice(1)}` }),
    via: "server",
  });
  out.push({ buf: replyTo(q, [aRecord(flip(q.name), EVIL)], { name: flip(q.name) }), via: "server" });
  const t = evil();
  t.writeUInt16BE(28, qnameEnd(q));
  out.push({ buf: t, via: "server" });
  const c = evil();
  c.writeUInt16BE(3, qnameEnd(q) + 2);
  out.push({ buf: c, via: "server" });
  const qr = evil();
  qr[2] = (qr[2] as number) & 0x7f;
  out.push({ buf: qr, via: "server" });
  const op = evil();
  op[2] = ((op[2] as number) & 0x87) | (2 << 3);
  out.push({ buf: op, via: "server" });
  const len = evil();
  out.push({ buf: Buffer.concat([len, Buffer.from([0, 0, 0])]), via: "server" });
  out.push({ buf: evil(), via: "wrong-port" });
  out.push({ buf: evil(), via: "wrong-addr" });
  return out;
}

describe("spoofing resistance", () => {
  let fake: FakeDnsServer;
  let fromPort: dgram.Socket;
  let fromAddr: dgram.Socket;
  beforeAll(async () => {
    fake = await startFakeDnsServer();
    fromPort = await spoofSocket("127.0.0.1");
    fromAddr = await spoofSocket("127.0.0.3");
  });
  afterAll(async () => {
    fromPort.close();
    fromAddr.close();
    await fake.close();
  });

  it("1,000 lookups under 10,000 one-field forgeries: 0 accepted, 1,000/1,000 real answers", async () => {
    let injected = 0;
    fake.setHandler((q, ctx) => {
      for (const f of forgeries(q)) {
        injected++;
        if (f.via === "server") ctx.reply(f.buf);
        else (f.via === "wrong-port" ? fromPort : fromAddr).send(f.buf, q.port, q.address);
      }
      // The real reply comes last, after every forgery was sent.
      setTimeout(() => ctx.reply(replyTo(q, [aRecord(q.name, REAL)])), 5);
    });
    const rejected = new Map<RejectReason, number>();
    const r = createResolver({
      servers: [fake.server],
      timeoutMs: 5000,
      attempts: 1,
      use0x20: true,
      maxInFlightPerServer: 100,
      metrics: { rejected: (why) => rejected.set(why, (rejected.get(why) ?? 0) + 1) },
    });
    try {
      const names = Array.from({ length: 1000 }, (_, i) => `n${i}.spoof.test`);
      const results = await Promise.allSettled(names.map((n) => r.resolve(n, "A")));
      const ok = results.filter((x) => x.status === "fulfilled");
      expect(ok).toHaveLength(1000);
      const wrong = ok.filter(
        (x) => JSON.stringify(x.value.records) !== JSON.stringify([{ type: "A", address: REAL, ttl: 60 }]),
      );
      expect(wrong.map((x) => [x.value.name, x.value.records])).toEqual([]);
      expect(injected).toBe(10_000);
      // 8 of 10 forgeries reach the socket (the kernel drops the other-source ones on the connected
      // socket); every one that reached it was rejected.
      const total = [...rejected.values()].reduce((a, b) => a + b, 0);
      expect(total).toBe(8000);
      expect(fake.queries.filter((q) => q.transport === "udp")).toHaveLength(1000);
    } finally {
      await r.close();
    }
  });

  it("1,000 concurrent queries leave from ≥ 99% distinct source ports", async () => {
    const pending: Array<() => void> = [];
    fake.queries.length = 0;
    fake.setHandler((q, ctx) => {
      pending.push(() => ctx.reply(replyTo(q, [aRecord(q.name, REAL)])));
      if (pending.length === 1000) for (const p of pending.splice(0)) p();
    });
    const r = createResolver({
      servers: [fake.server],
      timeoutMs: 10_000,
      attempts: 1,
      maxInFlightPerServer: 1000,
    });
    try {
      const names = Array.from({ length: 1000 }, (_, i) => `p${i}.ports.test`);
      const flush = setTimeout(() => {
        for (const p of pending.splice(0)) p();
      }, 3000);
      const results = await Promise.all(names.map((n) => r.resolve(n, "A")));
      clearTimeout(flush);
      expect(results).toHaveLength(1000);
      const ports = new Set(fake.queries.map((q) => q.port));
      expect(ports.size).toBeGreaterThanOrEqual(990);
    } finally {
      await r.close();
    }
  });
});
