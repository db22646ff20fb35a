/**
 * One TCP connection to one DNS server, shared by pipelined queries (RFC 7766 §6.2.1): queries are
 * written as they come, replies are matched to queries by ID in whatever order the server sends them,
 * and a connection with nothing outstanding closes after an idle time. Timeouts and validation belong
 * to the transport (tcp-transport.ts); a connection only knows what is outstanding on it, and fails all
 * of that when its byte stream breaks.
 */
import type net from "node:net";

/** Why a connection gave up on a query before its reply came. */
export interface ConnectionFailure {
  kind: "closed" | "error" | "framing";
  message: string;
  cause?: unknown;
  /**
   * The connection had delivered replies before it ended: the server closed a connection that was in
   * use (an idle timeout racing our query, a per-connection query limit), so asking again on a new one
   * is worth it. A connection that never answered is not: that is a server problem, and the resolver's
   * own retries and failover deal with it.
   */
  worked: boolean;
}

export interface Outstanding {
  /** A framed reply carrying this query's ID, not yet validated. */
  reply(message: Buffer): void;
  fail(failure: ConnectionFailure): void;
}

export interface TcpConnectionOptions {
  /** Close after this long with nothing outstanding (0: as soon as the last reply is in). */
  idleMs: number;
  /** Queries outstanding at once; a full connection takes no more. */
  maxOutstanding: number;
  /** A frame that matches no outstanding query (a late reply after a timeout, or a confused server). */
  onStray?: ((why: "id-mismatch" | "tcp-framing") => void) | undefined;
  /** Called once when the connection is gone, so its pool forgets it. */
  onGone(conn: TcpConnection): void;
}

export class TcpConnection {
  private readonly outstanding = new Map<number, Outstanding>();
  private readonly chunks: Buffer[] = [];
  private have = 0;
  private replies = 0;
  private idleTimer: NodeJS.Timeout | undefined;
  /** False once the connection must take no new queries: it is gone, failed, or retired. */
  private open = true;
  private gone = false;

  constructor(
    private readonly sock: net.Socket,
    private readonly opts: TcpConnectionOptions,
  ) {
    sock.setNoDelay(true);
    sock.on("data", (chunk: Buffer) => this.onData(chunk));
    sock.on("error", (e) =>
      this.end({ kind: "error", message: e.message, cause: e, worked: this.replies > 0 }),
    );
    sock.on("close", () =>
      this.end({
        kind: "closed",
        message: "connection closed before a full reply",
        worked: this.replies > 0,
      }),
    );
  }

  /** Whether a query with this ID can go out on this connection now. */
  canTake(id: number): boolean {
    return this.open && this.outstanding.size < this.opts.maxOutstanding && !this.outstanding.has(id);
  }

  /** Writes one query (already framed) and waits for the reply with its ID. */
  send(id: number, framed: Buffer, waiter: Outstanding): void {
    if (this.idleTimer) {
      clearTimeout(this.idleTimer);
      this.idleTimer = undefined;
    }
    // An idle connection does not keep the process alive; one with a query out does.
    if (this.outstanding.size === 0) this.sock.ref();
    this.outstanding.set(id, waiter);
    // Written before connect completes too: net.Socket queues it until then.
    this.sock.write(framed);
  }

  /** Stops waiting for a query (its timeout or abort). Its reply, if it still comes, is a stray. */
  forget(id: number): void {
    if (this.outstanding.delete(id)) this.maybeIdle();
  }

  /**
   * No new queries on this connection: a query on it timed out, so the server may be stuck on this
   * connection (replies on one connection can queue behind each other). It closes once the queries
   * already on it are done.
   */
  retire(): void {
    this.open = false;
    this.maybeIdle();
  }

  /** Closes now, failing what is outstanding (resolver close). */
  destroy(): void {
    this.end({ kind: "closed", message: "resolver closed", worked: false });
  }

  private onData(chunk: Buffer): void {
    this.chunks.push(chunk);
    this.have += chunk.length;
    // Every whole frame in what has arrived; a frame is at most 2 + 65,535 bytes, so that bounds what
    // is buffered.
    while (this.have >= 2) {
      const head = this.chunks[0] as Buffer;
      const need =
        head.length >= 2
          ? head.readUInt16BE(0)
          : ((head[0] as number) << 8) | (this.chunks[1]?.[0] as number);
      if (need === 0) {
        this.opts.onStray?.("tcp-framing");
        this.end({ kind: "framing", message: "zero-length TCP message", worked: false });
        return;
      }
      if (this.have < 2 + need) return;
      const all = this.chunks.length === 1 ? head : Buffer.concat(this.chunks, this.have);
      const message = all.subarray(2, 2 + need);
      this.chunks.length = 0;
      this.have -= 2 + need;
      if (this.have > 0) this.chunks.push(all.subarray(2 + need));
      this.dispatch(message);
      if (this.gone) return;
    }
  }

  private dispatch(message: Buffer): void {
    const id = message.length >= 2 ? message.readUInt16BE(0) : -1;
    const waiter = this.outstanding.get(id);
    if (waiter === undefined) {
      this.opts.onStray?.("id-mismatch");
      return;
    }
    this.outstanding.delete(id);
    this.replies++;
    waiter.reply(message);
    this.maybeIdle();
  }

  private maybeIdle(): void {
    if (this.gone || this.outstanding.size > 0) return;
    if (!this.open || this.opts.idleMs === 0) {
      this.end({ kind: "closed", message: "connection closed", worked: false });
      return;
    }
    this.sock.unref();
    if (this.idleTimer === undefined) {
      this.idleTimer = setTimeout(() => {
        this.idleTimer = undefined;
        this.end({ kind: "closed", message: "idle", worked: false });
      }, this.opts.idleMs);
      this.idleTimer.unref();
    }
  }

  private end(failure: ConnectionFailure): void {
    if (this.gone) return;
    this.gone = true;
    this.open = false;
    if (this.idleTimer) clearTimeout(this.idleTimer);
    this.sock.destroy();
    this.chunks.length = 0;
    this.opts.onGone(this);
    const waiting = [...this.outstanding.values()];
    this.outstanding.clear();
    for (const w of waiting) w.fail(failure);
  }
}
