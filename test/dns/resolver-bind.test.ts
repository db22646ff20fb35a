// The resolver against a real authoritative BIND 9: record types, CNAME chains (in zone and across
// zones), SRV targets from the additional section or follow-up queries, negative answers with SOA TTLs,
// TC→TCP for big answers, and new data after a zone reload.
import dgram from "node:dgram";
import net from "node:net";
import dnsPacket from "dns-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createResolver, type DnsResolver } from "../../src/dns/resolver.js";
import { type BindServer, startBindServer } from "../support/bind-server.js";

const many = Array.from(
  { length: 150 },
  (_, i) => `big 40 IN A 10.1.${Math.floor(i / 250)}.${(i % 250) + 1}`,
).join("\n");

const many2 = Array.from(
  { length: 150 },
  (_, i) => `big2 40 IN A 10.2.${Math.floor(i / 250)}.${(i % 250) + 1}`,
).join("\n");

const ZONE = `
api 30 IN A 127.0.0.5
api 45 IN A 127.0.0.6
api 20 IN AAAA 2001:db8::5
alias 60 IN CNAME api
alias2 50 IN CNAME alias
away 70 IN CNAME host.other.test.
emptyalias 40 IN CNAME api2
api2 40 IN TXT "x"
_grpc._tcp.svc 25 IN SRV 10 5 8080 a.svc
_grpc._tcp.svc 25 IN SRV 20 5 8081 b.svc
a.svc 15 IN A 127.0.0.11
b.svc 35 IN A 127.0.0.12
b.svc 35 IN AAAA ::1
_ext._tcp.svc 100 IN SRV 0 0 9000 host.other.test.
txt 10 IN TXT "hello" "world"
highttl 2147483649 IN A 127.0.0.7
${many}
${many2}
`;

describe("resolver against BIND", () => {
  let bind: BindServer;
  let r: DnsResolver;
  beforeAll(async () => {
    bind = await startBindServer({
      zones: [
        { origin: "example.test", records: ZONE, soaTtl: 90, negativeTtl: 33 },
        {
          origin: "other.test",
          records: "host 80 IN A 127.0.0.21\nhost 80 IN AAAA ::2",
          soaTtl: 10,
          negativeTtl: 50,
        },
      ],
      ipv6: true,
    });
    r = createResolver({ servers: [bind.server], timeoutMs: 2000, attempts: 2 });
  });
  afterAll(async () => {
    await r?.close();
    await bind?.stop();
  });

  it("A with min TTL and the answering server", async () => {
    const a = await r.resolve("API.example.test", "A");
    expect(a.name).toBe("api.example.test.");
    expect(a.rcode).toBe(0);
    expect(a.records.map((x) => (x.type === "A" ? x.address : "")).sort()).toEqual([
      "127.0.0.5",
      "127.0.0.6",
    ]);
    expect(a.ttl).toBe(30);
    expect(a.server).toBe(bind.server);
    expect(a.stale).toBe(false);
  });

  it("queries a server over IPv6 ([::1]:port)", async () => {
    const r6 = createResolver({ servers: [bind.server6 as string], timeoutMs: 2000, attempts: 1 });
    try {
      const a = await r6.resolve("api.example.test", "A");
      expect(a.server).toBe(bind.server6);
      expect(a.records).toHaveLength(2);
    } finally {
      await r6.close();
    }
  });

  it("AAAA", async () => {
    const a = await r.resolve("api.example.test.", "AAAA");
    expect(a.records).toEqual([{ type: "AAAA", address: "2001:db8::5", ttl: 20 }]);
  });

  it("TTL with the top bit set reads as 0", async () => {
    const a = await r.resolve("highttl.example.test", "A");
    expect(a.records).toEqual([{ type: "A", address: "127.0.0.7", ttl: 0 }]);
    expect(a.ttl).toBe(0);
  });

  it("follows an in-zone CNAME chain; TTL is the min over links and records", async () => {
    const a = await r.resolve("alias2.example.test", "A");
    expect(a.records).toHaveLength(2);
    expect(a.ttl).toBe(30);
    expect(a.name).toBe("alias2.example.test.");
  });

  it("follows a CNAME into another zone with a follow-up query", async () => {
    const a = await r.resolve("away.example.test", "A");
    expect(a.records).toEqual([{ type: "A", address: "127.0.0.21", ttl: 80 }]);
    expect(a.ttl).toBe(70);
  });

  it("NXDOMAIN carries min(SOA TTL, MINIMUM)", async () => {
    const a = await r.resolve("nope.example.test", "A");
    expect(a.rcode).toBe(3);
    expect(a.records).toEqual([]);
    expect(a.ttl).toBe(33);
  });

  it("NODATA is NOERROR with no records and the negative TTL", async () => {
    const a = await r.resolve("txt.example.test", "A");
    expect(a.rcode).toBe(0);
    expect(a.records).toEqual([]);
    expect(a.ttl).toBe(33);
    const b = await r.resolve("emptyalias.example.test", "AAAA");
    expect(b.rcode).toBe(0);
    expect(b.records).toEqual([]);
    expect(b.ttl).toBe(33);
  });

  it("TXT", async () => {
    const a = await r.resolve("txt.example.test", "TXT");
    expect(a.records).toEqual([{ type: "TXT", strings: ["hello", "world"], ttl: 10 }]);
  });

  it("SRV with in-bailiwick targets from the additional section", async () => {
    let queries = 0;
    const r2 = createResolver({
      servers: [bind.server],
      timeoutMs: 2000,
      metrics: { query: () => queries++ },
    });
    const a = await r2.resolve("_grpc._tcp.svc.example.test", "SRV").finally(() => r2.close());
    expect(queries).toBe(1);
    const byPriority = [...a.records].sort((x, y) =>
      x.type === "SRV" && y.type === "SRV" ? x.priority - y.priority : 0,
    );
    expect(byPriority).toEqual([
      { type: "SRV", priority: 10, weight: 5, port: 8080, target: "a.svc.example.test.", ttl: 25 },
      { type: "SRV", priority: 20, weight: 5, port: 8081, target: "b.svc.example.test.", ttl: 25 },
    ]);
    expect(a.targets?.get("a.svc.example.test.")).toEqual({
      a: [{ type: "A", address: "127.0.0.11", ttl: 15 }],
      aaaa: [],
    });
    expect(a.targets?.get("b.svc.example.test.")).toEqual({
      a: [{ type: "A", address: "127.0.0.12", ttl: 35 }],
      aaaa: [{ type: "AAAA", address: "::1", ttl: 35 }],
    });
    expect(a.ttl).toBe(15);
  });

  it("SRV with an out-of-bailiwick target resolves it by follow-up A and AAAA queries", async () => {
    const seen: string[] = [];
    const r2 = createResolver({
      servers: [bind.server],
      timeoutMs: 2000,
      metrics: { query: (_s, outcome) => seen.push(outcome) },
    });
    const a = await r2.resolve("_ext._tcp.svc.example.test", "SRV").finally(() => r2.close());
    expect(a.targets?.get("host.other.test.")).toEqual({
      a: [{ type: "A", address: "127.0.0.21", ttl: 80 }],
      aaaa: [{ type: "AAAA", address: "::2", ttl: 80 }],
    });
    expect(a.ttl).toBe(80);
    // The SRV query, then one A and one AAAA for the target: no more, no fewer.
    expect(seen).toEqual(["answer", "answer", "answer"]);
  });

  it("ignores out-of-bailiwick additional records: a caching resolver's SRV reply carries them, follow-ups still run", async () => {
    // A caching BIND in front of this one, warmed with host.other.test: it answers the SRV for
    // example.test with host.other.test's A and AAAA in the additional section (from its cache).
    // Not a delegated zone's glue: BIND 9.18 as an authoritative server puts no glue into an SRV reply's
    // additional section (tried with `minimal-responses no`: a target below a zone cut of the same zone,
    // and one in another zone it serves with a delegation and glue — the reply carried neither), so a
    // caching server is the real one that sends out-of-bailiwick addresses.
    const fwd = await startBindServer({
      zones: [],
      forwardZones: [
        { origin: "example.test", to: bind.server },
        { origin: "other.test", to: bind.server },
      ],
    });
    const seen: string[] = [];
    const r2 = createResolver({
      servers: [fwd.server],
      timeoutMs: 2000,
      metrics: { query: (_s, outcome) => seen.push(outcome) },
    });
    try {
      await r2.resolve("host.other.test", "A");
      await r2.resolve("host.other.test", "AAAA");
      const raw = await rawQuery(fwd.port, "_ext._tcp.svc.example.test", "SRV");
      expect(
        raw.additionals
          ?.filter((x) => x.name === "host.other.test")
          .map((x) => x.type)
          .sort(),
        "the case under test: out-of-bailiwick addresses in the additional section",
      ).toEqual(["A", "AAAA"]);
      seen.length = 0;
      const a = await r2.resolve("_ext._tcp.svc.example.test", "SRV");
      expect(a.targets?.get("host.other.test.")?.a).toMatchObject([{ type: "A", address: "127.0.0.21" }]);
      expect(a.targets?.get("host.other.test.")?.aaaa).toMatchObject([{ type: "AAAA", address: "::2" }]);
      // Trusting the additional section would make this one query.
      expect(seen).toEqual(["answer", "answer", "answer"]);
    } finally {
      await r2.close();
      await fwd.stop();
    }
  });

  it("a big answer comes back TC over UDP and is fetched over TCP", async () => {
    const seen: string[] = [];
    const r2 = createResolver({
      servers: [bind.server],
      timeoutMs: 2000,
      attempts: 1,
      metrics: { query: (_s, outcome) => seen.push(outcome) },
    });
    try {
      const a = await r2.resolve("big.example.test", "A");
      expect(a.records).toHaveLength(150);
      expect(seen).toEqual(["truncated", "answer"]);
    } finally {
      await r2.close();
    }
  });

  it("big names' refreshes and concurrent lookups share one pipelined TCP connection to BIND", async () => {
    let connects = 0;
    const events: string[] = [];
    const r2 = createResolver({
      servers: [bind.server],
      timeoutMs: 2000,
      attempts: 1,
      metrics: { tcpConnection: (server, event) => events.push(`${server} ${event}`) },
      socketFactory: {
        udp: (type) => dgram.createSocket({ type }),
        tcp: (o) => {
          connects++;
          return net.connect(o);
        },
      },
    });
    try {
      const addrs = (a: { records: readonly unknown[] }) =>
        new Set(a.records.map((x) => (x as { address: string }).address));
      const first = await r2.resolve("big.example.test", "A");
      // Both at once on the same connection: big over TCP first, big2 after its truncated UDP reply.
      const [again, other] = await Promise.all([
        r2.resolve("big.example.test", "A"),
        r2.resolve("big2.example.test", "A"),
      ]);
      for (let i = 0; i < 3; i++) await r2.resolve("big.example.test", "A");
      expect(addrs(first).size).toBe(150);
      expect(addrs(again)).toEqual(addrs(first));
      expect(addrs(other).size).toBe(150);
      expect([...addrs(other)].every((a) => a.startsWith("10.2."))).toBe(true);
      expect(connects).toBe(1);
      expect(events).toEqual([`${bind.server} opened`]);
    } finally {
      await r2.close();
    }
    expect(events).toEqual([`${bind.server} opened`, `${bind.server} closed`]);
  });

  it("sees new data after a zone reload", async () => {
    await bind.setZone({
      origin: "other.test",
      records: "host 12 IN A 127.0.0.99",
      soaTtl: 10,
      negativeTtl: 50,
    });
    const a = await r.resolve("host.other.test", "A");
    expect(a.records).toEqual([{ type: "A", address: "127.0.0.99", ttl: 12 }]);
    const b = await r.resolve("host.other.test", "AAAA");
    expect(b.records).toEqual([]);
    expect(b.ttl).toBe(10);
  });

  it("rejects bad names before they reach the wire", async () => {
    await expect(r.resolve("a..example.test", "A")).rejects.toMatchObject({ code: "ERR_DNS_BAD_NAME" });
    await expect(r.resolve(`${"x".repeat(64)}.example.test`, "A")).rejects.toMatchObject({
      code: "ERR_DNS_BAD_NAME",
    });
    await expect(r.resolve(`${"abcdefghi.".repeat(26)}test`, "A")).rejects.toMatchObject({
      code: "ERR_DNS_BAD_NAME",
    });
  });
});

/** One recursive (RD) query over UDP to 127.0.0.1:port with dns-packet, to see a reply as sent. */
function rawQuery(port: number, name: string, type: "SRV"): Promise<dnsPacket.DecodedPacket> {
  return new Promise((resolve, reject) => {
    const sock = dgram.createSocket("udp4");
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error(`no reply to ${name} ${type}`));
    }, 3000);
    sock.on("message", (msg) => {
      clearTimeout(timer);
      sock.close();
      resolve(dnsPacket.decode(msg));
    });
    sock.send(
      dnsPacket.encode({
        type: "query",
        id: 4242,
        flags: dnsPacket.RECURSION_DESIRED,
        questions: [{ name, type }],
      }),
      port,
      "127.0.0.1",
    );
  });
}
