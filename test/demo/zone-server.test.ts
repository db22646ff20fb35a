import { execFile } from "node:child_process";
import { createSocket } from "node:dgram";
import { Resolver } from "node:dns/promises";
import { connect } from "node:net";
import { promisify } from "node:util";
import * as packet from "dns-packet";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startZoneServer, type ZoneServer } from "../../src/demo/zone-server.js";

const run = promisify(execFile);

const many = Array.from({ length: 40 }, (_, i) => `       A 10.1.0.${i + 1}`).join("\n");
const ZONE = `
$ORIGIN t.test.
$TTL 20
@    IN SOA ns.t.test. hm.t.test. 1 60 30 600 7
     IN NS ns
ns   IN A 127.0.0.1
echo IN A 127.0.0.1
     IN A 127.0.0.2
     IN AAAA ::1
     IN TXT "version=v1" "team=demo"
www  IN CNAME echo
ext  IN CNAME svc.example.org.
l1   IN CNAME l2
l2   IN CNAME l1
_grpc._tcp.echo IN SRV 0 10 50051 b1
                IN SRV 1 20 50052 b2
b1   IN A 127.0.0.1
b2   IN A 127.0.0.2
     IN AAAA ::1
a.b.c IN A 10.9.9.9
big  IN A 10.1.1.1
${many}
`;

let server: ZoneServer;

async function dig(...args: string[]): Promise<string> {
  const { stdout } = await run(
    "dig",
    ["@127.0.0.1", "-p", String(server.port), "+tries=1", "+time=3", ...args],
    {
      timeout: 10_000,
    },
  );
  return stdout;
}

function resolver(): Resolver {
  const r = new Resolver({ timeout: 2000, tries: 1 });
  r.setServers([server.server]);
  return r;
}

/** Sends one raw UDP datagram and returns the first reply (bounded wait). */
function udpExchange(msg: Buffer, waitMs = 3000): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const sock = createSocket("udp4");
    const timer = setTimeout(() => {
      sock.close();
      reject(new Error("no reply"));
    }, waitMs);
    sock.once("message", (m) => {
      clearTimeout(timer);
      sock.close();
      resolve(m);
    });
    sock.send(msg, server.port, "127.0.0.1");
  });
}

const query = (name: string, type: string, extra: Partial<packet.Packet> = {}): Buffer =>
  packet.encode({ type: "query", id: 4242, flags: 0, questions: [{ name, type: type as "A" }], ...extra });

beforeAll(async () => {
  server = await startZoneServer({ zoneText: ZONE, host: "127.0.0.1", port: 0 });
});
afterAll(async () => {
  await server?.close();
});

describe("zone server against dig", () => {
  it("answers authoritatively with the A records", async () => {
    const out = await dig("+norec", "echo.t.test", "A");
    expect(out).toMatch(/status: NOERROR/);
    expect(out).toMatch(/flags: qr aa;/);
    expect(out).toMatch(/echo\.t\.test\.\s+20\s+IN\s+A\s+127\.0\.0\.1/);
    expect(out).toMatch(/echo\.t\.test\.\s+20\s+IN\s+A\s+127\.0\.0\.2/);
  });

  it("chases an in-zone CNAME and stops at an out-of-zone one", async () => {
    const www = await dig("+short", "www.t.test", "AAAA");
    expect(www.trim().split("\n")).toEqual(["echo.t.test.", "::1"]);
    const ext = await dig("ext.t.test", "A");
    expect(ext).toMatch(/status: NOERROR/);
    expect(ext).toMatch(/ANSWER: 1,/);
    const loop = await dig("l1.t.test", "A");
    expect(loop).toMatch(/ANSWER: 2,/);
  });

  it("gives NXDOMAIN and NODATA with the SOA and the negative TTL", async () => {
    const nx = await dig("nope.t.test", "A");
    expect(nx).toMatch(/status: NXDOMAIN/);
    expect(nx).toMatch(/AUTHORITY SECTION:\nt\.test\.\s+7\s+IN\s+SOA/);
    const nodata = await dig("echo.t.test", "SRV");
    expect(nodata).toMatch(/status: NOERROR/);
    expect(nodata).toMatch(/ANSWER: 0, AUTHORITY: 1/);
    // An empty non-terminal exists: NODATA, not NXDOMAIN (RFC 8020).
    const ent = await dig("b.c.t.test", "A");
    expect(ent).toMatch(/status: NOERROR/);
  });

  it("puts SRV targets' addresses in the additional section", async () => {
    const out = await dig("_grpc._tcp.echo.t.test", "SRV");
    expect(out).toMatch(/IN\s+SRV\s+0 10 50051 b1\.t\.test\./);
    expect(out).toMatch(/ADDITIONAL SECTION:[\s\S]*b1\.t\.test\.\s+20\s+IN\s+A\s+127\.0\.0\.1/);
    expect(out).toMatch(/b2\.t\.test\.\s+20\s+IN\s+AAAA\s+::1/);
  });

  it("refuses names outside the zone without the AA bit", async () => {
    const out = await dig("example.com", "A");
    expect(out).toMatch(/status: REFUSED/);
    expect(out).not.toMatch(/flags: qr aa/);
  });

  it("sets TC over UDP past 512 bytes without EDNS, and serves the full answer over TCP", async () => {
    const udp = await dig("+noedns", "+ignore", "big.t.test", "A");
    expect(udp).toMatch(/flags: qr aa tc[ ;]/);
    expect(udp).toMatch(/ANSWER: 0,/);
    const fallback = await dig("+noedns", "big.t.test", "A");
    expect(fallback).toMatch(/ANSWER: 41,/);
    const tcp = await dig("+tcp", "big.t.test", "A");
    expect(tcp).toMatch(/ANSWER: 41,/);
  });

  it("honours the client's EDNS payload size", async () => {
    const fits = await dig("+bufsize=1232", "+ignore", "big.t.test", "A");
    expect(fits).toMatch(/ANSWER: 41,/);
    const small = await dig("+bufsize=600", "+ignore", "big.t.test", "A");
    expect(small).toMatch(/flags: qr aa tc[ ;]/);
  });

  it("answers with BADVERS to an unknown EDNS version", async () => {
    const out = await dig("+edns=1", "+noednsneg", "echo.t.test", "A");
    expect(out).toMatch(/status: BADVERS/);
  });

  it("lets the demo change a record live and bumps the serial", async () => {
    server.updateRecords({ name: "echo", type: "A", rdata: ["127.0.0.1", "127.0.0.2", "127.0.0.3"] });
    const out = await dig("+short", "echo.t.test", "A");
    expect(out.trim().split("\n").sort()).toEqual(["127.0.0.1", "127.0.0.2", "127.0.0.3"]);
    const soa = await dig("+short", "t.test", "SOA");
    expect(soa).toMatch(/ns\.t\.test\. hm\.t\.test\. 2 60 30 600 7/);
    expect(() => server.updateRecords({ name: "www", type: "A", rdata: ["10.0.0.1"] })).toThrow(
      /next to a CNAME/,
    );
    expect(() => server.updateRecords({ name: "echo", type: "A", rdata: ["nope"] })).toThrow(/bad IPv4/);
    // A rejected update leaves the zone as it was.
    expect((await dig("+short", "echo.t.test", "A")).trim().split("\n")).toHaveLength(3);
    server.updateRecords({ name: "echo", type: "A", rdata: ["127.0.0.1", "127.0.0.2"] });
  });
});

describe("zone server against Node's c-ares resolver", () => {
  it("resolves A, AAAA, SRV, TXT and CNAME with TTLs", async () => {
    const r = resolver();
    expect(
      (await r.resolve4("echo.t.test", { ttl: true })).sort((a, b) => a.address.localeCompare(b.address)),
    ).toEqual([
      { address: "127.0.0.1", ttl: 20 },
      { address: "127.0.0.2", ttl: 20 },
    ]);
    expect(await r.resolve6("www.t.test")).toEqual(["::1"]);
    expect(await r.resolveSrv("_grpc._tcp.echo.t.test")).toEqual([
      { name: "b1.t.test", port: 50051, priority: 0, weight: 10 },
      { name: "b2.t.test", port: 50052, priority: 1, weight: 20 },
    ]);
    expect(await r.resolveTxt("echo.t.test")).toEqual([["version=v1", "team=demo"]]);
    expect(await r.resolveCname("www.t.test")).toEqual(["echo.t.test"]);
  });

  it("reports NXDOMAIN as ENOTFOUND and NODATA as ENODATA", async () => {
    const r = resolver();
    await expect(r.resolve4("nope.t.test")).rejects.toMatchObject({ code: "ENOTFOUND" });
    await expect(r.resolveSrv("echo.t.test")).rejects.toMatchObject({ code: "ENODATA" });
    await expect(r.resolve4("example.com")).rejects.toMatchObject({ code: "EREFUSED" });
  });

  it("falls back to TCP for a truncated answer", async () => {
    expect(await resolver().resolve4("big.t.test")).toHaveLength(41);
  });
});

describe("zone server on raw packets", () => {
  it("answers FORMERR to garbage and echoes the id", async () => {
    const garbage = Buffer.from("12340000000100000000000003616263ff", "hex");
    const reply = packet.decode(await udpExchange(garbage));
    expect(reply.id).toBe(0x1234);
    expect((reply.flags ?? 0) & 0xf).toBe(1);
    const trailing = Buffer.concat([query("echo.t.test", "A"), Buffer.from([1, 2, 3])]);
    expect((packet.decode(await udpExchange(trailing)).flags ?? 0) & 0xf).toBe(1);
    const twoQuestions = packet.encode({
      type: "query",
      id: 7,
      questions: [
        { name: "echo.t.test", type: "A" },
        { name: "www.t.test", type: "A" },
      ],
    });
    expect((packet.decode(await udpExchange(twoQuestions)).flags ?? 0) & 0xf).toBe(1);
  });

  it("drops messages too short to answer and responses, then keeps serving", async () => {
    const before = server.stats.dropped;
    const sock = createSocket("udp4");
    try {
      const got = new Promise<Buffer>((resolve) => sock.once("message", resolve));
      sock.send(Buffer.from([1, 2, 3]), server.port, "127.0.0.1");
      sock.send(
        packet.encode({ type: "response", id: 9, questions: [{ name: "echo.t.test", type: "A" }] }),
        server.port,
        "127.0.0.1",
      );
      sock.send(query("echo.t.test", "A"), server.port, "127.0.0.1");
      const reply = packet.decode(await got);
      expect(reply.id).toBe(4242);
      expect(server.stats.dropped - before).toBe(2);
    } finally {
      sock.close();
    }
  });

  it("answers NOTIMP to other opcodes and preserves the question's case", async () => {
    const notify = packet.encode({
      type: "query",
      id: 5,
      flags: 4 << 11,
      questions: [{ name: "t.test", type: "SOA" }],
    });
    expect((packet.decode(await udpExchange(notify)).flags ?? 0) & 0xf).toBe(4);
    const mixed = packet.decode(await udpExchange(query("EcHo.T.tEsT", "A")));
    expect(mixed.questions?.[0]?.name).toBe("EcHo.T.tEsT");
    expect(mixed.answers).toHaveLength(2);
  });

  it("serves pipelined queries on one TCP connection", async () => {
    const frames = ["echo.t.test", "www.t.test", "nope.t.test"].map((n, i) => {
      const q = packet.encode({ type: "query", id: 100 + i, questions: [{ name: n, type: "A" }] });
      const f = Buffer.alloc(2 + q.length);
      f.writeUInt16BE(q.length, 0);
      q.copy(f, 2);
      return f;
    });
    const replies = await new Promise<packet.DecodedPacket[]>((resolve, reject) => {
      const sock = connect(server.port, "127.0.0.1");
      const out: packet.DecodedPacket[] = [];
      let buf = Buffer.alloc(0);
      const timer = setTimeout(() => {
        sock.destroy();
        reject(new Error("timeout"));
      }, 5000);
      sock.on("error", reject);
      sock.on("connect", () => sock.write(Buffer.concat(frames)));
      sock.on("data", (d: Buffer) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          out.push(packet.decode(buf.subarray(2, 2 + buf.readUInt16BE(0))));
          buf = buf.subarray(2 + buf.readUInt16BE(0));
        }
        if (out.length === 3) {
          clearTimeout(timer);
          sock.end();
          resolve(out);
        }
      });
    });
    expect(replies.map((r) => r.id)).toEqual([100, 101, 102]);
    expect(replies.map((r) => r.answers?.length)).toEqual([2, 3, 0]);
    expect((replies[2]?.flags ?? 0) & 0xf).toBe(3);
  });
});

describe("zone server protecting itself", () => {
  it("drops a TCP client that pipelines queries and never reads the answers", async () => {
    const q = packet.encode({ type: "query", id: 1, questions: [{ name: "big.t.test", type: "A" }] });
    const frame = Buffer.alloc(2 + q.length);
    frame.writeUInt16BE(q.length, 0);
    q.copy(frame, 2);
    // ~1.1 KB per answer: 20,000 answers (22 MB) overflow the kernel buffers and our 1 MiB bound.
    const burst = Buffer.concat(Array.from({ length: 20_000 }, () => frame));
    // Read nothing for a while, then drain: a dropped connection ends before all answers arrive.
    const received = await new Promise<number>((resolve) => {
      const sock = connect(server.port, "127.0.0.1");
      let bytes = 0;
      const timer = setTimeout(() => {
        sock.destroy();
        resolve(bytes);
      }, 20_000);
      sock.on("connect", () => {
        sock.pause();
        sock.write(burst);
        setTimeout(() => sock.resume(), 2_000);
      });
      sock.on("data", (d: Buffer) => {
        bytes += d.length;
      });
      sock.on("error", () => {});
      sock.on("close", () => {
        clearTimeout(timer);
        resolve(bytes);
      });
    });
    // Every answer to big.t.test is over 1,000 bytes, so all of them would be over 20 MB.
    expect(received).toBeLessThan(20_000 * 1000);
    // And it still answers everyone else.
    expect((await dig("+tcp", "+short", "echo.t.test", "A")).trim().split("\n")).toHaveLength(2);
  });
});

describe("zone server lifecycle", () => {
  it("listens on ::1, replaces the whole zone, rejects a bad one and closes", async () => {
    const s = await startZoneServer({ zoneText: ZONE, host: "::1" });
    try {
      expect(s.server).toBe(`[::1]:${s.port}`);
      const r = new Resolver({ timeout: 2000, tries: 1 });
      r.setServers([s.server]);
      expect((await r.resolve4("echo.t.test")).sort()).toEqual(["127.0.0.1", "127.0.0.2"]);
      s.setZone("$ORIGIN t.test.\n@ SOA ns hm 1 2 3 4 5\necho A 10.0.0.9\n");
      expect(await r.resolve4("echo.t.test")).toEqual(["10.0.0.9"]);
      expect(() => s.setZone("$ORIGIN t.test.\necho A 10.0.0.1\n")).toThrow(/no SOA/);
      expect(await r.resolve4("echo.t.test")).toEqual(["10.0.0.9"]);
    } finally {
      await s.close();
    }
    await expect(startZoneServer({ zoneText: ZONE, zoneFile: "/x" })).rejects.toMatchObject({
      code: "ERR_ZONE_SERVER_OPTIONS",
    });
  });

  it("fails with a stable code when the port is taken", async () => {
    await expect(startZoneServer({ zoneText: ZONE, port: server.port })).rejects.toMatchObject({
      code: "ERR_ZONE_SERVER_BIND",
    });
  });
});
