/**
 * UDP transport. Source ports must be unpredictable (RFC 5452) and a single shared socket lost queries
 * at 200 in flight, so each query gets a socket of its own for its whole lifetime: one query in flight
 * per socket, sockets connected to their server (the kernel drops datagrams from other sources; the
 * source is checked again here), returned to a per-server idle pool after a valid reply and retired
 * after `maxQueriesPerSocket` queries (c-ares' udp_max_queries). A timed-out or aborted query closes
 * its socket so a late reply cannot land on a later query. N concurrent queries therefore use N
 * distinct ports.
 */
import type dgram from "node:dgram";
import { DnsError } from "./dns-error.js";
import { validateReply } from "./message-validator.js";
import type { ServerAddress } from "./server-address.js";
import { defaultSocketFactory, type SocketFactory } from "./socket-factory.js";
import type { ExchangeRequest, Transport } from "./transport.js";
import type { WireMessage } from "./wire-decoder.js";

/** Queries one socket serves before it is closed and a new ephemeral port is drawn. */
export const DEFAULT_UDP_MAX_QUERIES_PER_SOCKET = 32;
/** Idle sockets kept per server; beyond this, freed sockets are closed. */
export const DEFAULT_UDP_MAX_IDLE_PER_SERVER = 256;

export interface UdpTransportOptions {
  socketFactory?: SocketFactory;
  maxQueriesPerSocket?: number;
  maxIdlePerServer?: number;
}

interface PooledSocket {
  sock: dgram.Socket;
  uses: number;
  dead: boolean;
  onMessage: ((msg: Buffer, rinfo: dgram.RemoteInfo) => void) | null;
  onError: ((err: Error) => void) | null;
}

export class UdpTransport implements Transport {
  private readonly factory: SocketFactory;
  private readonly maxQueries: number;
  private readonly maxIdle: number;
  private readonly idle = new Map<string, PooledSocket[]>();
  private readonly live = new Set<PooledSocket>();
  private closed = false;

  constructor(opts: UdpTransportOptions = {}) {
    this.factory = opts.socketFactory ?? defaultSocketFactory;
    this.maxQueries = Math.max(1, opts.maxQueriesPerSocket ?? DEFAULT_UDP_MAX_QUERIES_PER_SOCKET);
    this.maxIdle = Math.max(0, opts.maxIdlePerServer ?? DEFAULT_UDP_MAX_IDLE_PER_SERVER);
  }

  private destroy(ps: PooledSocket): void {
    ps.dead = true;
    ps.onMessage = null;
    ps.onError = null;
    this.live.delete(ps);
    try {
      ps.sock.close();
    } catch {
      // already closed
    }
  }

  private release(server: ServerAddress, ps: PooledSocket): void {
    ps.onMessage = null;
    ps.onError = null;
    if (this.closed || ps.dead || ps.uses >= this.maxQueries) {
      this.destroy(ps);
      return;
    }
    let list = this.idle.get(server.key);
    if (!list) {
      list = [];
      this.idle.set(server.key, list);
    }
    if (list.length >= this.maxIdle) {
      this.destroy(ps);
      return;
    }
    list.push(ps);
  }

  private takeIdle(server: ServerAddress): PooledSocket | undefined {
    const list = this.idle.get(server.key);
    while (list && list.length > 0) {
      const ps = list.pop() as PooledSocket;
      if (!ps.dead) return ps;
    }
    return undefined;
  }

  private createSocket(server: ServerAddress): Promise<PooledSocket> {
    return new Promise<PooledSocket>((resolve, reject) => {
      let sock: dgram.Socket;
      try {
        sock = this.factory.udp(server.family === 6 ? "udp6" : "udp4");
      } catch (e) {
        reject(
          new DnsError("ERR_DNS_NETWORK", `cannot create UDP socket: ${(e as Error).message}`, {
            server: server.key,
            cause: e,
          }),
        );
        return;
      }
      const ps: PooledSocket = { sock, uses: 0, dead: false, onMessage: null, onError: null };
      this.live.add(ps);
      let connected = false;
      sock.on("message", (msg, rinfo) => ps.onMessage?.(msg, rinfo));
      sock.on("error", (err) => {
        if (!connected) {
          this.destroy(ps);
          reject(
            new DnsError("ERR_DNS_NETWORK", `UDP connect to ${server.key} failed: ${err.message}`, {
              server: server.key,
              cause: err,
            }),
          );
          return;
        }
        const h = ps.onError;
        this.destroy(ps);
        h?.(err);
      });
      try {
        sock.connect(server.port, server.host, () => {
          connected = true;
          sock.unref();
          resolve(ps);
        });
      } catch (e) {
        this.destroy(ps);
        reject(
          new DnsError("ERR_DNS_NETWORK", `UDP connect to ${server.key} failed: ${(e as Error).message}`, {
            server: server.key,
            cause: e,
          }),
        );
      }
    });
  }

  exchange(req: ExchangeRequest): Promise<WireMessage> {
    if (this.closed) return Promise.reject(new DnsError("ERR_DNS_CLOSED", "resolver closed"));
    if (req.signal?.aborted) {
      return Promise.reject(new DnsError("ERR_DNS_ABORTED", "lookup aborted", { server: req.server.key }));
    }
    // Fast path without an extra promise when a pooled socket is free.
    const idle = this.takeIdle(req.server);
    if (idle) return this.run(idle, req);
    return this.createSocket(req.server).then((ps) => this.run(ps, req));
  }

  private run(ps: PooledSocket, req: ExchangeRequest): Promise<WireMessage> {
    ps.uses++;
    const server = req.server;
    return new Promise<WireMessage>((resolve, reject) => {
      let done = false;
      const finish = (err: DnsError | undefined, msg?: WireMessage) => {
        if (done) return;
        done = true;
        clearTimeout(timer);
        req.signal?.removeEventListener("abort", onAbort);
        if (err) {
          this.destroy(ps);
          reject(err);
        } else {
          this.release(server, ps);
          resolve(msg as WireMessage);
        }
      };
      const onAbort = () => finish(new DnsError("ERR_DNS_ABORTED", "lookup aborted", { server: server.key }));
      const timer = setTimeout(
        () =>
          finish(
            new DnsError("ERR_DNS_TIMEOUT", `no valid reply from ${server.key} within ${req.timeoutMs} ms`, {
              server: server.key,
            }),
          ),
        req.timeoutMs,
      );
      req.signal?.addEventListener("abort", onAbort, { once: true });
      ps.onMessage = (msg, rinfo) => {
        if (rinfo.address !== server.host || rinfo.port !== server.port) {
          req.onReject?.("wrong-source");
          return;
        }
        const v = validateReply(msg, req.expected);
        if (v.ok) finish(undefined, v.msg);
        else req.onReject?.(v.reason);
      };
      ps.onError = (err) =>
        finish(
          new DnsError("ERR_DNS_NETWORK", `UDP error from ${server.key}: ${err.message}`, {
            server: server.key,
            cause: err,
          }),
        );
      try {
        // No send callback (it costs a request object and a tick per query): a send that fails
        // asynchronously ends as a timeout, and ICMP errors arrive as the socket's 'error' event.
        ps.sock.send(req.packet);
      } catch (e) {
        finish(
          new DnsError("ERR_DNS_NETWORK", `UDP send to ${server.key} failed: ${(e as Error).message}`, {
            server: server.key,
            cause: e,
          }),
        );
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    for (const ps of [...this.live]) {
      const h = ps.onError;
      this.destroy(ps);
      h?.(new Error("transport closed"));
    }
    this.idle.clear();
  }
}
