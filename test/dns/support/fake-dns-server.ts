/**
 * A programmable DNS server for faults a real server will not produce (timeouts, garbage, spoofed or
 * malformed replies, TC without data, slow TCP). Listens on UDP and TCP on the same 127.0.0.1 port; a
 * handler decides per query what to send. Helpers build correct replies with dns-packet, and raw
 * buffers go out untouched.
 */
import dgram from "node:dgram";
import net from "node:net";
import dnsPacket from "dns-packet";

export interface FakeQuery {
  transport: "udp" | "tcp";
  id: number;
  /** Question name exactly as received (case preserved), without trailing dot. */
  name: string;
  type: string;
  raw: Buffer;
  /** Client address/port (UDP) or remote endpoint (TCP). */
  address: string;
  port: number;
}

export interface FakeContext {
  /** Sends bytes back (UDP datagram to the client / TCP with 2-byte length framing). */
  reply(buf: Buffer): void;
  /** TCP only: writes raw bytes without framing. */
  writeRaw(buf: Buffer): void;
  /** TCP only: closes the connection. */
  end(): void;
}

export type FakeHandler = (q: FakeQuery, ctx: FakeContext) => void | Promise<void>;

export interface FakeDnsServer {
  host: string;
  port: number;
  /** "127.0.0.1:PORT" */
  server: string;
  queries: FakeQuery[];
  setHandler(h: FakeHandler): void;
  close(): Promise<void>;
}

type Rec = dnsPacket.Answer;

const RCODES: Record<string, number> = {
  NOERROR: 0,
  FORMERR: 1,
  SERVFAIL: 2,
  NXDOMAIN: 3,
  NOTIMP: 4,
  REFUSED: 5,
};

/** A NOERROR reply to `q` with the given answers (and optional sections/flags). */
export function replyTo(
  q: FakeQuery,
  answers: Rec[],
  extra: {
    authorities?: Rec[];
    additionals?: Rec[];
    rcode?: string;
    flags?: number;
    id?: number;
    name?: string;
  } = {},
): Buffer {
  const rcodeFlag = extra.rcode ? (RCODES[extra.rcode] ?? 0) : 0;
  return dnsPacket.encode({
    type: "response",
    id: extra.id ?? q.id,
    flags: (extra.flags ?? dnsPacket.RECURSION_DESIRED | dnsPacket.RECURSION_AVAILABLE) | rcodeFlag,
    questions: [{ type: q.type as dnsPacket.RecordType, name: extra.name ?? q.name, class: "IN" }],
    answers,
    authorities: extra.authorities ?? [],
    additionals: extra.additionals ?? [],
  });
}

export function aRecord(name: string, address: string, ttl = 60): Rec {
  return { type: "A", name, ttl, data: address };
}

export function soaRecord(zone: string, ttl: number, minimum: number): Rec {
  return {
    type: "SOA",
    name: zone,
    ttl,
    data: {
      mname: `ns.${zone}`,
      rname: `host.${zone}`,
      serial: 1,
      refresh: 60,
      retry: 60,
      expire: 60,
      minimum,
    },
  };
}

export async function startFakeDnsServer(handler: FakeHandler = () => {}): Promise<FakeDnsServer> {
  let h = handler;
  const queries: FakeQuery[] = [];
  const tcpSockets = new Set<net.Socket>();
  for (let attempt = 0; attempt < 20; attempt++) {
    // A burst of 1,000 queries overflows the default 208 KB receive buffer of one socket.
    const udp = dgram.createSocket({ type: "udp4", recvBufferSize: 4 * 1024 * 1024 });
    const port = await new Promise<number>((resolve, reject) => {
      udp.once("error", reject);
      udp.bind(0, "127.0.0.1", () => resolve(udp.address().port));
    });
    const tcp = net.createServer((sock) => {
      tcpSockets.add(sock);
      sock.on("close", () => tcpSockets.delete(sock));
      sock.on("error", () => {});
      let buf = Buffer.alloc(0);
      sock.on("data", (d) => {
        buf = Buffer.concat([buf, d]);
        while (buf.length >= 2 && buf.length >= 2 + buf.readUInt16BE(0)) {
          const raw = buf.subarray(2, 2 + buf.readUInt16BE(0));
          buf = buf.subarray(2 + raw.length);
          dispatch("tcp", Buffer.from(raw), sock.remoteAddress ?? "", sock.remotePort ?? 0, {
            reply: (b) => {
              const f = Buffer.alloc(2 + b.length);
              f.writeUInt16BE(b.length, 0);
              b.copy(f, 2);
              if (!sock.destroyed) sock.write(f);
            },
            writeRaw: (b) => {
              if (!sock.destroyed) sock.write(b);
            },
            end: () => sock.end(),
          });
        }
      });
    });
    const tcpOk = await new Promise<boolean>((resolve) => {
      tcp.once("error", () => resolve(false));
      tcp.listen(port, "127.0.0.1", () => resolve(true));
    });
    if (!tcpOk) {
      udp.close();
      continue;
    }
    const dispatch = (
      transport: "udp" | "tcp",
      raw: Buffer,
      address: string,
      rport: number,
      ctx: FakeContext,
    ) => {
      let q: FakeQuery;
      try {
        const p = dnsPacket.decode(raw);
        const question = p.questions?.[0];
        if (!question) return;
        q = { transport, id: p.id ?? 0, name: question.name, type: question.type, raw, address, port: rport };
      } catch {
        return;
      }
      queries.push(q);
      Promise.resolve(h(q, ctx)).catch(() => {});
    };
    udp.on("message", (msg, rinfo) => {
      dispatch("udp", msg, rinfo.address, rinfo.port, {
        reply: (b) => udp.send(b, rinfo.port, rinfo.address),
        writeRaw: () => {},
        end: () => {},
      });
    });
    return {
      host: "127.0.0.1",
      port,
      server: `127.0.0.1:${port}`,
      queries,
      setHandler: (nh) => {
        h = nh;
      },
      close: async () => {
        for (const s of tcpSockets) s.destroy();
        await Promise.all([
          new Promise<void>((r) => udp.close(() => r())),
          new Promise<void>((r) => tcp.close(() => r())),
        ]);
      },
    };
  }
  throw new Error("fake-dns-server: no free port");
}

/** Binds a UDP socket on `host` (port 0) for sending replies from a wrong address or port. */
export async function spoofSocket(host = "127.0.0.1"): Promise<dgram.Socket> {
  const s = dgram.createSocket("udp4");
  await new Promise<void>((r) => s.bind(0, host, () => r()));
  return s;
}
