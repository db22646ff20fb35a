/**
 * TCP transport (RFC 7766): used for a name whose UDP reply was truncated. Connections to a server are
 * kept open for `idleMs` after their last reply and reused, with queries pipelined on them and replies
 * matched by ID in any order (tcp-connection.ts), so a name too large for UDP costs one exchange per
 * refresh, not a connect, an exchange and a close. Each query is bounded by the per-try timeout, from
 * its write to its whole reply, so a server trickling 1 byte/s cannot hold a lookup longer than that.
 * Replies are capped at 65,535 bytes by the framing itself.
 *
 * A server may close a connection it considers idle just as a query goes out on it; a query lost that
 * way (on a connection that had answered before) is asked once more on a new connection, within the
 * same timeout. A server that closes connections under outstanding queries is then asked on a
 * connection per query for a while, as before reuse existed.
 */
import type net from "node:net";
import { DnsError } from "./dns-error.js";
import { validateReply } from "./message-validator.js";
import { defaultSocketFactory, type SocketFactory } from "./socket-factory.js";
import { type ConnectionFailure, TcpConnection } from "./tcp-connection.js";
import type { ExchangeRequest, Transport } from "./transport.js";
import type { WireMessage } from "./wire-decoder.js";

/** Below the 30 s idle timeout of BIND and Unbound, so it is normally this side that closes. */
export const TCP_IDLE_MS = 10_000;
/** Queries outstanding on one connection; more open another connection to the same server. */
export const TCP_MAX_PIPELINED = 32;
/** How long a server that closed a connection under outstanding queries gets one query per connection. */
const ONE_SHOT_MS = 10 * 60_000;

export interface TcpTransportOptions {
  socketFactory?: SocketFactory;
  /** Keep a connection this long after its last reply for the next query (0: one per query). */
  idleMs?: number;
  maxPipelined?: number;
  /** A reply that matched no outstanding query, or a framing error on a connection (counted). */
  onStray?: (why: "id-mismatch" | "tcp-framing") => void;
  /** A connection to the server `key` opened or closed (a gauge of open connections). */
  onConnection?: (key: string, event: "opened" | "closed") => void;
  now?: () => number;
}

export class TcpTransport implements Transport {
  private readonly factory: SocketFactory;
  private readonly idleMs: number;
  private readonly maxPipelined: number;
  private readonly onStray: TcpTransportOptions["onStray"];
  private readonly onConnection: TcpTransportOptions["onConnection"];
  private readonly now: () => number;
  /** Reusable connections per server key. */
  private readonly pools = new Map<string, TcpConnection[]>();
  /** Every live connection, pooled or not, for close(). */
  private readonly live = new Set<TcpConnection>();
  /** Servers asked on a connection per query until this time. */
  private readonly oneShotUntil = new Map<string, number>();
  private closed = false;

  constructor(opts: TcpTransportOptions = {}) {
    this.factory = opts.socketFactory ?? defaultSocketFactory;
    this.idleMs = opts.idleMs ?? TCP_IDLE_MS;
    this.maxPipelined = opts.maxPipelined ?? TCP_MAX_PIPELINED;
    this.onStray = opts.onStray;
    this.onConnection = opts.onConnection;
    this.now = opts.now ?? Date.now;
  }

  async exchange(req: ExchangeRequest): Promise<WireMessage> {
    if (this.closed) throw new DnsError("ERR_DNS_CLOSED", "resolver closed");
    const server = req.server;
    if (req.signal?.aborted) throw new DnsError("ERR_DNS_ABORTED", "lookup aborted", { server: server.key });
    const id = req.packet.length >= 2 ? ((req.packet[0] as number) << 8) | (req.packet[1] as number) : 0;
    const framed = Buffer.allocUnsafe(2 + req.packet.length);
    framed.writeUInt16BE(req.packet.length, 0);
    framed.set(req.packet, 2);
    return new Promise<WireMessage>((resolve, reject) => {
      let done = false;
      let conn: TcpConnection | undefined;
      let askedAgain = false;
      const finish = (err: DnsError | undefined, msg?: WireMessage) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        req.signal?.removeEventListener("abort", onAbort);
        conn?.forget(id);
        if (err) reject(err);
        else resolve(msg as WireMessage);
      };
      const onAbort = () => finish(new DnsError("ERR_DNS_ABORTED", "lookup aborted", { server: server.key }));
      const timer = setTimeout(() => {
        // The server may be stuck on this connection: later queries go on another.
        conn?.retire();
        finish(
          new DnsError("ERR_DNS_TIMEOUT", `no TCP reply from ${server.key} within ${req.timeoutMs} ms`, {
            server: server.key,
          }),
        );
      }, req.timeoutMs);
      req.signal?.addEventListener("abort", onAbort, { once: true });
      const send = () => {
        try {
          conn = this.connectionFor(server.key, server.host, server.port, id);
        } catch (e) {
          finish(
            new DnsError("ERR_DNS_NETWORK", `TCP ${server.key}: connect failed: ${(e as Error).message}`, {
              server: server.key,
              cause: e,
            }),
          );
          return;
        }
        conn.send(id, framed, {
          reply: (message) => {
            const v = validateReply(message, { ...req.expected, caseSensitive: false });
            if (v.ok) {
              finish(undefined, v.msg);
              return;
            }
            req.onReject?.(v.reason);
            finish(
              new DnsError("ERR_DNS_BAD_REPLY", `invalid TCP reply from ${server.key}: ${v.reason}`, {
                server: server.key,
              }),
            );
          },
          fail: (f: ConnectionFailure) => {
            if (done) return;
            if (f.kind !== "framing" && f.worked) {
              this.oneShotUntil.set(server.key, this.now() + ONE_SHOT_MS);
              if (!askedAgain && !this.closed) {
                askedAgain = true;
                conn = undefined;
                send();
                return;
              }
            }
            if (f.kind === "framing") {
              finish(
                new DnsError("ERR_DNS_TCP_FRAMING", `TCP ${server.key}: ${f.message}`, {
                  server: server.key,
                }),
              );
              return;
            }
            finish(
              new DnsError("ERR_DNS_NETWORK", `TCP ${server.key}: ${f.message}`, {
                server: server.key,
                cause: f.cause,
              }),
            );
          },
        });
      };
      send();
    });
  }

  /** A pooled connection to the server with room for this ID, else a new one. */
  private connectionFor(key: string, host: string, port: number, id: number): TcpConnection {
    const until = this.oneShotUntil.get(key);
    let oneShot = this.idleMs === 0;
    if (until !== undefined) {
      if (this.now() < until) oneShot = true;
      else this.oneShotUntil.delete(key);
    }
    let pool = this.pools.get(key);
    if (!oneShot && pool) {
      for (const c of pool) if (c.canTake(id)) return c;
    }
    const sock: net.Socket = this.factory.tcp({ host, port });
    const conn = new TcpConnection(sock, {
      idleMs: oneShot ? 0 : this.idleMs,
      maxOutstanding: oneShot ? 1 : this.maxPipelined,
      onStray: this.onStray,
      onGone: (c) => {
        this.live.delete(c);
        this.onConnection?.(key, "closed");
        const p = this.pools.get(key);
        if (!p) return;
        const i = p.indexOf(c);
        if (i >= 0) p.splice(i, 1);
        if (p.length === 0) this.pools.delete(key);
      },
    });
    this.live.add(conn);
    this.onConnection?.(key, "opened");
    if (!oneShot) {
      if (!pool) {
        pool = [];
        this.pools.set(key, pool);
      }
      pool.push(conn);
    }
    return conn;
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const c of [...this.live]) c.destroy();
    this.live.clear();
    this.pools.clear();
  }
}
