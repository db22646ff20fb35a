/**
 * Test helper: a TCP forwarder on loopback between a client and a server, for faults a real server and
 * client will not produce on their own: `freeze()` stops forwarding in both directions while keeping
 * both sockets open (a peer that hangs without closing, so keepalive pings go unanswered). It also
 * counts the HTTP/2 PING frames the server sends (plaintext only), so a test can wait for keepalives
 * instead of sleeping.
 */
import { connect, createServer, type Server, type Socket } from "node:net";

const FRAME_HEADER = 9;
const PING = 0x6;
const ACK = 0x1;

/** Counts PING frames (not ACKs) in one direction of an HTTP/2 connection, across chunk boundaries. */
class PingCounter {
  pings = 0;
  private buf: Buffer = Buffer.alloc(0);

  feed(chunk: Buffer): void {
    this.buf = this.buf.length === 0 ? chunk : Buffer.concat([this.buf, chunk]);
    for (let i = 0; i < 100_000 && this.buf.length >= FRAME_HEADER; i++) {
      const length = this.buf.readUIntBE(0, 3);
      if (this.buf.length < FRAME_HEADER + length) return;
      const type = this.buf[3];
      const flags = this.buf[4] ?? 0;
      if (type === PING && (flags & ACK) === 0) this.pings++;
      this.buf = this.buf.subarray(FRAME_HEADER + length);
    }
  }
}

export class TcpProxy {
  private readonly server: Server;
  private readonly pairs: Array<{ client: Socket; upstream: Socket; pings: PingCounter }> = [];
  private frozen = false;
  port = 0;

  constructor(
    private readonly targetPort: number,
    private readonly targetHost = "127.0.0.1",
  ) {
    this.server = createServer((client) => {
      const upstream = connect(this.targetPort, this.targetHost);
      const pings = new PingCounter();
      client.on("error", () => upstream.destroy());
      upstream.on("error", () => client.destroy());
      client.on("close", () => upstream.destroy());
      upstream.on("close", () => client.destroy());
      client.on("data", (d: Buffer) => {
        if (!this.frozen) upstream.write(d);
      });
      upstream.on("data", (d: Buffer) => {
        if (this.frozen) return;
        pings.feed(d);
        client.write(d);
      });
      this.pairs.push({ client, upstream, pings });
    });
  }

  async start(): Promise<number> {
    await new Promise<void>((resolve) => this.server.listen(0, "127.0.0.1", resolve));
    const a = this.server.address();
    this.port = typeof a === "object" && a !== null ? a.port : 0;
    return this.port;
  }

  /** PINGs the server has sent through this proxy, over all connections. */
  get serverPings(): number {
    return this.pairs.reduce((n, p) => n + p.pings.pings, 0);
  }

  /** Connections whose server side is still open. */
  get openUpstreams(): number {
    return this.pairs.filter((p) => !p.upstream.destroyed && !p.upstream.readableEnded).length;
  }

  /** From now on nothing passes, in either direction; the sockets stay open. */
  freeze(): void {
    this.frozen = true;
  }

  async stop(): Promise<void> {
    for (const p of this.pairs) {
      p.client.destroy();
      p.upstream.destroy();
    }
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }
}
