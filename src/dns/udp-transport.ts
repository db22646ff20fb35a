/**
 * UDP transport. Source ports must be unpredictable (RFC 5452) and a single shared socket lost queries
 * at 200 in flight, so each query gets a socket of its own for its whole lifetime: one query in flight
 * per socket, sockets connected to their server (the kernel drops datagrams from other sources; the
 * source is checked again here), returned to a per-server idle pool after a valid reply and retired
 * after `maxQueriesPerSocket` queries (c-ares' udp_max_queries). A timed-out or aborted query closes
 * its socket so a late reply cannot land on a later query. N concurrent queries therefore use N
 * distinct ports.
 *
 * This is the cold-path hot loop, so a query allocates one object and one promise: no closures per
 * query (the socket's listeners are bound once, abort uses the query as its listener object) and no
 * timer per query (one DeadlineQueue per transport). Queries started in one turn of the event loop are
 * sent together on setImmediate: sent one by one from microtasks, the server's thread slept between
 * them and every loopback send paid for waking it.
 */
import type dgram from "node:dgram";
import { type DeadlineEntry, DeadlineQueue } from "./deadline-queue.js";
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
  /** Monotonic clock in ms for per-try deadlines (default performance.now). */
  now?: () => number;
}

/** One socket, connected to one server, serving at most one query at a time. */
class PooledSocket {
  uses = 0;
  dead = false;
  query: UdpQuery | null = null;

  constructor(
    readonly sock: dgram.Socket,
    readonly server: ServerAddress,
  ) {}

  onMessage(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    // A datagram with no query waiting (a duplicate after the answer) is dropped: the socket is only
    // reused for a new query after a valid reply, and that query's ID and question will not match it.
    this.query?.onDatagram(msg, rinfo);
  }
}

/** One try of one query on one socket: the promise's settle functions, deadline and abort listener. */
class UdpQuery implements DeadlineEntry {
  deadline = 0;
  dqPrev: DeadlineEntry | null = null;
  dqNext: DeadlineEntry | null = null;
  dqQueued = false;
  done = false;
  resolve!: (m: WireMessage) => void;
  reject!: (e: DnsError) => void;

  constructor(
    readonly transport: UdpTransport,
    readonly ps: PooledSocket,
    readonly req: ExchangeRequest,
  ) {}

  onDatagram(msg: Buffer, rinfo: dgram.RemoteInfo): void {
    const server = this.req.server;
    if (rinfo.address !== server.host || rinfo.port !== server.port) {
      this.req.onReject?.("wrong-source");
      return;
    }
    const v = validateReply(msg, this.req.expected);
    if (v.ok) this.settle(undefined, v.msg);
    else this.req.onReject?.(v.reason);
  }

  expire(): void {
    const key = this.req.server.key;
    this.settle(
      new DnsError("ERR_DNS_TIMEOUT", `no valid reply from ${key} within ${this.req.timeoutMs} ms`, {
        server: key,
      }),
    );
  }

  /** EventListener object for the caller's AbortSignal (no closure per query). */
  handleEvent(): void {
    this.settle(new DnsError("ERR_DNS_ABORTED", "lookup aborted", { server: this.req.server.key }));
  }

  fail(message: string, cause: unknown): void {
    const key = this.req.server.key;
    this.settle(new DnsError("ERR_DNS_NETWORK", message, { server: key, cause }));
  }

  settle(err: DnsError | undefined, msg?: WireMessage): void {
    if (this.done) return;
    this.done = true;
    this.transport.finished(this, err === undefined);
    if (err) this.reject(err);
    else this.resolve(msg as WireMessage);
  }
}

export class UdpTransport implements Transport {
  private readonly factory: SocketFactory;
  private readonly maxQueries: number;
  private readonly maxIdle: number;
  private readonly deadlines: DeadlineQueue;
  private readonly idle = new Map<string, PooledSocket[]>();
  private readonly live = new Set<PooledSocket>();
  /** Queries started in this turn of the event loop, sent together by `flush` (see the header). */
  private readonly outbox: UdpQuery[] = [];
  private closed = false;

  constructor(opts: UdpTransportOptions = {}) {
    this.factory = opts.socketFactory ?? defaultSocketFactory;
    this.maxQueries = Math.max(1, opts.maxQueriesPerSocket ?? DEFAULT_UDP_MAX_QUERIES_PER_SOCKET);
    this.maxIdle = Math.max(0, opts.maxIdlePerServer ?? DEFAULT_UDP_MAX_IDLE_PER_SERVER);
    this.deadlines = new DeadlineQueue(opts.now);
  }

  exchange(req: ExchangeRequest): Promise<WireMessage> {
    if (this.closed) return Promise.reject(new DnsError("ERR_DNS_CLOSED", "resolver closed"));
    if (req.signal?.aborted) {
      return Promise.reject(new DnsError("ERR_DNS_ABORTED", "lookup aborted", { server: req.server.key }));
    }
    const idle = this.takeIdle(req.server);
    if (idle) return this.start(idle, req);
    return this.createSocket(req.server).then((ps) => {
      // The connect took a turn of the loop: the lookup may have been aborted or the transport closed.
      if (this.closed || req.signal?.aborted) {
        this.destroy(ps);
        throw this.closed
          ? new DnsError("ERR_DNS_CLOSED", "resolver closed")
          : new DnsError("ERR_DNS_ABORTED", "lookup aborted", { server: req.server.key });
      }
      return this.start(ps, req);
    });
  }

  private start(ps: PooledSocket, req: ExchangeRequest): Promise<WireMessage> {
    ps.uses++;
    const q = new UdpQuery(this, ps, req);
    const p = new Promise<WireMessage>((resolve, reject) => {
      q.resolve = resolve;
      q.reject = reject;
    });
    ps.query = q;
    this.deadlines.add(q, req.timeoutMs);
    req.signal?.addEventListener("abort", q, { once: true });
    this.outbox.push(q);
    if (this.outbox.length === 1) setImmediate(this.flush);
    return p;
  }

  private readonly flush = () => {
    const list = this.outbox.splice(0);
    for (const q of list) {
      if (q.done) continue; // aborted, timed out or closed before it left
      try {
        // No send callback (it costs a request object and a tick per query): a send that fails
        // asynchronously ends as a timeout, and ICMP errors arrive as the socket's 'error' event.
        q.ps.sock.send(q.req.packet);
      } catch (e) {
        q.fail(`UDP send to ${q.req.server.key} failed: ${(e as Error).message}`, e);
      }
    }
  };

  /** Called once per query as it settles: frees its deadline, listener and socket. */
  finished(q: UdpQuery, ok: boolean): void {
    this.deadlines.remove(q);
    q.req.signal?.removeEventListener("abort", q);
    const ps = q.ps;
    ps.query = null;
    if (ok) this.release(ps);
    else this.destroy(ps);
  }

  private destroy(ps: PooledSocket): void {
    ps.dead = true;
    ps.query = null;
    this.live.delete(ps);
    try {
      ps.sock.close();
    } catch {
      // already closed
    }
  }

  private release(ps: PooledSocket): void {
    if (this.closed || ps.dead || ps.uses >= this.maxQueries) {
      this.destroy(ps);
      return;
    }
    let list = this.idle.get(ps.server.key);
    if (!list) {
      list = [];
      this.idle.set(ps.server.key, list);
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
      const ps = new PooledSocket(sock, server);
      this.live.add(ps);
      let connected = false;
      const connectFailed = (e: unknown) => {
        this.destroy(ps);
        reject(
          new DnsError("ERR_DNS_NETWORK", `UDP connect to ${server.key} failed: ${(e as Error).message}`, {
            server: server.key,
            cause: e,
          }),
        );
      };
      sock.on("message", (msg, rinfo) => ps.onMessage(msg, rinfo));
      sock.on("error", (err) => {
        if (!connected) {
          connectFailed(err);
          return;
        }
        const q = ps.query;
        this.destroy(ps);
        q?.fail(`UDP error from ${server.key}: ${err.message}`, err);
      });
      try {
        sock.connect(server.port, server.host, () => {
          connected = true;
          sock.unref();
          resolve(ps);
        });
      } catch (e) {
        connectFailed(e);
      }
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    this.deadlines.clear();
    for (const ps of [...this.live]) {
      const q = ps.query;
      this.destroy(ps);
      q?.fail("transport closed", undefined);
    }
    this.idle.clear();
  }
}
