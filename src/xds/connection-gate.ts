/**
 * The xDS port's front door. It accepts TCP connections itself and hands them to grpc-js (its
 * connection injector, which then does TLS, HTTP/2 and the calls), so the connection limits are checked
 * before any of that work: a connection over `maxConnectionsPerPeer` or `maxConnections` is closed at
 * accept, before a TLS handshake could cost a single CPU cycle; one that has opened no stream within
 * `idleTimeoutMs` (a stalled handshake, a silent socket) is closed then. Such a client cannot get a gRPC
 * status (there is no HTTP/2 session to carry one): it sees the connection close, and the refusal is
 * counted and logged (rate-limited) under the limit's name.
 */
import { createServer, isIPv4, type Server, type Socket } from "node:net";
import type { ClientTextLog } from "./client-text-log.js";
import { XdsError } from "./errors.js";
import type { LimitName, XdsLimits } from "./limits.js";
import type { XdsMetrics } from "./metrics.js";

export interface ConnectionGateOptions {
  /** Read at each accept, so reloaded limits apply to the next connection. */
  limits: XdsLimits;
  /** Takes an accepted socket (grpc-js' connection injector). */
  inject(socket: Socket): void;
  metrics: Required<XdsMetrics>;
  clientLog: ClientTextLog;
}

/**
 * Connections the kernel may hold completed for us while the event loop is busy. Node's default is
 * 511; a fleet reconnecting at once (a control-plane restart, W4's 5,000 streams) overflows that, and
 * each connection over it loses its SYN and waits out TCP's retransmission (1 s, then 3 s) before it is
 * even seen. Go's net.Listen asks for the kernel's whole limit (net.core.somaxconn); so does this: the
 * kernel lowers the request to somaxconn.
 */
const LISTEN_BACKLOG = 65_535;

interface Connection {
  socket: Socket;
  peer: string;
  /** Set until the connection opens its first stream. */
  deadline: NodeJS.Timeout | undefined;
}

/** The address a per-peer limit counts: IPv4-mapped IPv6 (`::ffff:10.0.0.1`) as the IPv4 it is. */
export function peerAddressOf(remoteAddress: string | undefined): string {
  if (remoteAddress === undefined) return "unknown";
  const m = /^::ffff:(.+)$/i.exec(remoteAddress);
  return m?.[1] !== undefined && isIPv4(m[1]) ? m[1] : remoteAddress;
}

/** `address:port` as grpc-js' `call.getPeer()` writes it for the same socket. */
function connectionKey(socket: Socket): string {
  return `${socket.remoteAddress}:${socket.remotePort}`;
}

export class ConnectionGate {
  private readonly server: Server;
  private readonly perPeer = new Map<string, number>();
  private readonly connections = new Map<string, Connection>();
  private closed = false;

  constructor(private readonly opts: ConnectionGateOptions) {
    // Socket options as grpc-js' own listener leaves them (Nagle on); the write path is tuned there.
    this.server = createServer((socket) => this.accept(socket));
  }

  /** Binds `host:port` (port 0: any free port) and resolves with the bound port. */
  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error) => {
        reject(new XdsError("ERR_XDS_SERVER_STATE", `cannot listen on ${host}:${port}: ${err.message}`));
      };
      this.server.once("error", onError);
      this.server.listen({ host, port, backlog: LISTEN_BACKLOG }, () => {
        this.server.off("error", onError);
        const addr = this.server.address();
        resolve(typeof addr === "object" && addr !== null ? addr.port : port);
      });
    });
  }

  /** Open connections right now. */
  get size(): number {
    return this.connections.size;
  }

  /** Open connections from one address (as `peerAddressOf` writes it). */
  connectionsFrom(address: string): number {
    return this.perPeer.get(address) ?? 0;
  }

  /** A stream opened on the connection grpc-js calls `peer`: it has passed the no-stream deadline. */
  streamStarted(peer: string): void {
    const c = this.connections.get(peer);
    if (c?.deadline !== undefined) {
      clearTimeout(c.deadline);
      c.deadline = undefined;
    }
  }

  /**
   * Stops accepting. Open connections are left to grpc-js' shutdown (net.Server's close callback would
   * wait for every one of them, so it is not awaited).
   */
  close(): void {
    this.closed = true;
    for (const c of this.connections.values()) {
      if (c.deadline !== undefined) clearTimeout(c.deadline);
      c.deadline = undefined;
    }
    if (this.server.listening) this.server.close();
  }

  private accept(socket: Socket): void {
    const l = this.opts.limits;
    const peer = peerAddressOf(socket.remoteAddress);
    const fromPeer = this.perPeer.get(peer) ?? 0;
    if (this.closed) {
      socket.destroy();
      return;
    }
    if (this.connections.size >= l.maxConnections) {
      this.refuse(socket, peer, "maxConnections", `${this.connections.size} connections are open`);
      return;
    }
    if (fromPeer >= l.maxConnectionsPerPeer) {
      this.refuse(socket, peer, "maxConnectionsPerPeer", `${fromPeer} connections from ${peer} are open`);
      return;
    }
    const key = connectionKey(socket);
    const c: Connection = { socket, peer, deadline: undefined };
    c.deadline = setTimeout(() => {
      c.deadline = undefined;
      this.opts.metrics.limitExceeded("idleTimeoutMs");
      this.opts.clientLog.warn(
        "connection-refused",
        { limit: "idleTimeoutMs", peer: key, reason: `no stream within ${l.idleTimeoutMs} ms` },
        "xds connection closed",
      );
      socket.destroy();
    }, l.idleTimeoutMs);
    c.deadline.unref();
    this.connections.set(key, c);
    this.perPeer.set(peer, fromPeer + 1);
    this.opts.metrics.connectionOpened();
    socket.once("close", () => {
      if (c.deadline !== undefined) clearTimeout(c.deadline);
      this.connections.delete(key);
      const n = (this.perPeer.get(peer) ?? 1) - 1;
      if (n <= 0) this.perPeer.delete(peer);
      else this.perPeer.set(peer, n);
      this.opts.metrics.connectionClosed();
    });
    this.opts.inject(socket);
  }

  private refuse(socket: Socket, peer: string, limit: LimitName, why: string): void {
    // A reset from the client side must not become an unhandled 'error'.
    socket.on("error", () => {});
    socket.destroy();
    this.opts.metrics.limitExceeded(limit);
    this.opts.clientLog.warn(
      "connection-refused",
      { limit, peer, reason: `${why} (xds.limits.${limit})` },
      "xds connection refused",
    );
  }
}
