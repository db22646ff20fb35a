/**
 * TCP transport (RFC 7766 framing: 2-byte length prefix), used when a UDP reply has TC set. One
 * connection per query; the whole exchange (connect, send, read) is bounded by the per-try timeout, so
 * a server trickling 1 byte/s cannot hold a lookup longer than that. Replies are capped at 65,535 bytes
 * by the framing itself; anything after the one framed reply is a framing error.
 */
import type net from "node:net";
import { DnsError } from "./dns-error.js";
import { validateReply } from "./message-validator.js";
import { defaultSocketFactory, type SocketFactory } from "./socket-factory.js";
import type { ExchangeRequest, Transport } from "./transport.js";
import type { WireMessage } from "./wire-decoder.js";

export interface TcpTransportOptions {
  socketFactory?: SocketFactory;
}

export class TcpTransport implements Transport {
  private readonly factory: SocketFactory;
  private readonly live = new Set<net.Socket>();
  private closed = false;

  constructor(opts: TcpTransportOptions = {}) {
    this.factory = opts.socketFactory ?? defaultSocketFactory;
  }

  async exchange(req: ExchangeRequest): Promise<WireMessage> {
    if (this.closed) throw new DnsError("ERR_DNS_CLOSED", "resolver closed");
    const server = req.server;
    if (req.signal?.aborted) throw new DnsError("ERR_DNS_ABORTED", "lookup aborted", { server: server.key });
    return new Promise<WireMessage>((resolve, reject) => {
      let done = false;
      let sock: net.Socket | undefined;
      const finish = (err: DnsError | undefined, msg?: WireMessage) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        req.signal?.removeEventListener("abort", onAbort);
        if (sock) {
          this.live.delete(sock);
          sock.destroy();
        }
        if (err) reject(err);
        else resolve(msg as WireMessage);
      };
      const net_ = (m: string, cause?: unknown) =>
        new DnsError("ERR_DNS_NETWORK", `TCP ${server.key}: ${m}`, { server: server.key, cause });
      const onAbort = () => finish(new DnsError("ERR_DNS_ABORTED", "lookup aborted", { server: server.key }));
      const timer = setTimeout(
        () =>
          finish(
            new DnsError("ERR_DNS_TIMEOUT", `no TCP reply from ${server.key} within ${req.timeoutMs} ms`, {
              server: server.key,
            }),
          ),
        req.timeoutMs,
      );
      req.signal?.addEventListener("abort", onAbort, { once: true });
      try {
        sock = this.factory.tcp({ host: server.host, port: server.port });
      } catch (e) {
        finish(net_(`connect failed: ${(e as Error).message}`, e));
        return;
      }
      const s = sock;
      this.live.add(s);
      s.setNoDelay(true);
      const chunks: Buffer[] = [];
      let have = 0;
      let need = -1;
      s.on("connect", () => {
        const frame = Buffer.allocUnsafe(2 + req.packet.length);
        frame.writeUInt16BE(req.packet.length, 0);
        frame.set(req.packet, 2);
        s.write(frame);
      });
      s.on("data", (chunk: Buffer) => {
        chunks.push(chunk);
        have += chunk.length;
        if (need < 0 && have >= 2) {
          const head = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks);
          need = head.readUInt16BE(0);
          if (need === 0) {
            req.onReject?.("tcp-framing");
            finish(
              new DnsError("ERR_DNS_TCP_FRAMING", `zero-length TCP reply from ${server.key}`, {
                server: server.key,
              }),
            );
            return;
          }
        }
        if (need >= 0 && have >= 2 + need) {
          if (have > 2 + need) {
            req.onReject?.("tcp-framing");
            finish(
              new DnsError("ERR_DNS_TCP_FRAMING", `bytes after the TCP reply from ${server.key}`, {
                server: server.key,
              }),
            );
            return;
          }
          const all = Buffer.concat(chunks);
          const v = validateReply(all.subarray(2), { ...req.expected, caseSensitive: false });
          if (v.ok) finish(undefined, v.msg);
          else {
            req.onReject?.(v.reason);
            finish(
              new DnsError("ERR_DNS_BAD_REPLY", `invalid TCP reply from ${server.key}: ${v.reason}`, {
                server: server.key,
              }),
            );
          }
        }
      });
      s.on("error", (e) => finish(net_(e.message, e)));
      s.on("close", () => finish(net_("connection closed before a full reply")));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const s of this.live) s.destroy();
    this.live.clear();
  }
}
