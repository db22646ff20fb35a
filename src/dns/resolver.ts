/**
 * The hardened stub resolver: `createResolver(opts)` implements the `Resolver` contract of types.ts on
 * our own UDP/TCP transports. Policy is layered over the one `Transport.exchange` seam: singleflight per
 * (name, type) → CNAME chase across queries → server pool (order, failover, down-marking, probing) →
 * per-server in-flight limit → UDP with TC→TCP. Answers carry RAW TTLs (min of the records used;
 * negative answers min(SOA TTL, SOA MINIMUM)); clamping, negative caps and serve-stale belong to the
 * cache tier. Nothing here caches.
 */

import { AddressGuard } from "./address-guard.js";
import { DnsError, isDnsError } from "./dns-error.js";
import type { DnsMetrics, QueryOutcome } from "./dns-metrics.js";
import type { RejectReason } from "./message-validator.js";
import { nameProblem, normalizeName, randomizeCase } from "./name-validation.js";
import { EDNS_UDP_PAYLOAD, encodeQuery, RECORD_TYPE_CODES } from "./query-encoder.js";
import {
  type ChainState,
  interpretReply,
  MAX_CNAME_LINKS,
  RCODE_FORMERR,
  RCODE_NOERROR,
  RCODE_NOTIMP,
  RCODE_NXDOMAIN,
  RCODE_REFUSED,
  RCODE_SERVFAIL,
} from "./reply-interpreter.js";
import { loadResolvConf, RESOLV_CONF_PATH } from "./resolv-conf.js";
import { randomBytesFromPool, randomQueryId } from "./secure-random.js";
import { parseServerAddress, type ServerAddress } from "./server-address.js";
import {
  CASE_MISMATCHES_BEFORE_FALLBACK,
  NO_EDNS_RETRY_MS,
  ServerPool,
  type ServerState,
} from "./server-pool.js";
import { Singleflight } from "./singleflight.js";
import type { SocketFactory } from "./socket-factory.js";
import { addressesFromAdditional, MAX_SRV_TARGET_LOOKUPS, srvBailiwick } from "./srv-targets.js";
import { TcpTransport } from "./tcp-transport.js";
import type { Transport } from "./transport.js";
import { TruncationMemo } from "./truncation-memo.js";
import type { Answer, DnsRecord, RecordType, ResolveOptions, Resolver } from "./types.js";
import { UdpTransport } from "./udp-transport.js";
import { noteAddressNumbers, sameAddressRecords } from "./unchanged-records.js";
import type { WireMessage, WireRecord } from "./wire-decoder.js";

/** Per-try timeout when neither options nor resolv.conf say otherwise. */
export const DEFAULT_TIMEOUT_MS = 2000;
/** Rounds over the server list per query. */
export const DEFAULT_ATTEMPTS = 2;
/** How long a name that answered truncated is asked over TCP first, and how many such names are kept. */
const TCP_FIRST_MS = 10 * 60_000;
const TCP_FIRST_MAX_NAMES = 10_000;

export interface ResolverOptions {
  /** Ordered servers, "host:port" / "[v6]:port" / bare IP (port 53). Default: resolv.conf nameservers. */
  servers?: string[];
  /** resolv.conf to read when `servers` (or timeout/attempts) are not given. */
  resolvConfPath?: string;
  /** Per-try timeout in ms (default resolv.conf `timeout:`, else 2,000). */
  timeoutMs?: number;
  /** Rounds over the server list (default resolv.conf `attempts:`, else 2). */
  attempts?: number;
  /** Queries in flight per server (default 256). */
  maxInFlightPerServer?: number;
  /** Lookups waiting for a slot per server before ERR_DNS_OVERLOADED (default 10,000). */
  maxQueuedPerServer?: number;
  /** Queries per UDP socket before it is retired (default 32). */
  udpMaxQueriesPerSocket?: number;
  /**
   * How long a TCP connection to a server stays open after its last reply, for the next query to reuse
   * (default 10,000; 0: a connection per query).
   */
  tcpIdleMs?: number;
  /** EDNS0 UDP payload size advertised (default 1232; 0 disables EDNS). */
  ednsUdpSize?: number;
  /** DNS 0x20 random case, checked case-sensitively over UDP, per-server fallback (default false). */
  use0x20?: boolean;
  /**
   * CIDR ranges whose addresses are dropped from answers (default none). The built-in rebinding guard
   * (loopback, link-local, metadata...) is applied per cluster by the endpoints stage, not here.
   */
  rebindingGuard?: string[];
  /** CNAME links followed per lookup (default 12). */
  maxCnameLinks?: number;
  /** Server down-marking backoff (defaults: server-pool.ts constants). */
  backoff?: { baseMs?: number; maxMs?: number };
  now?: () => number;
  /** Randomness for backoff jitter only (IDs and ports use the CSPRNG / kernel). */
  random?: () => number;
  socketFactory?: SocketFactory;
  /** Replace the network seam (tests, alternative transports). */
  transports?: { udp?: Transport; tcp?: Transport };
  metrics?: DnsMetrics;
}

export type DnsResolver = Resolver & {
  close(): Promise<void>;
  /** Configured servers, as "host:port" keys, in order. */
  readonly servers: readonly string[];
};

interface QueryResult {
  msg: WireMessage;
  server: string;
}

function rcodeError(rcode: number, server: string): DnsError {
  if (rcode === RCODE_SERVFAIL)
    return new DnsError("ERR_DNS_SERVFAIL", `${server} answered SERVFAIL`, { server });
  if (rcode === RCODE_REFUSED)
    return new DnsError("ERR_DNS_REFUSED", `${server} answered REFUSED`, { server });
  return new DnsError("ERR_DNS_BAD_RCODE", `${server} answered rcode ${rcode}`, { server });
}

function outcomeOf(msg: WireMessage): QueryOutcome {
  switch (msg.rcode) {
    case RCODE_NOERROR:
      return msg.answers.length > 0 ? "answer" : "nodata";
    case RCODE_NXDOMAIN:
      return "nxdomain";
    case RCODE_SERVFAIL:
      return "servfail";
    case RCODE_REFUSED:
      return "refused";
    default:
      return "bad_rcode";
  }
}

/** A reply saying the server did not understand our EDNS query (FORMERR/NOTIMP with no OPT back). */
function ednsRejected(msg: WireMessage): boolean {
  return (msg.rcode === RCODE_FORMERR || msg.rcode === RCODE_NOTIMP) && msg.ednsUdpSize === undefined;
}

function errorOutcome(e: unknown): QueryOutcome {
  if (!isDnsError(e)) return "network";
  if (e.code === "ERR_DNS_TIMEOUT") return "timeout";
  if (e.code === "ERR_DNS_BAD_REPLY" || e.code === "ERR_DNS_TCP_FRAMING") return "bad_reply";
  return "network";
}

class StubResolver implements DnsResolver {
  readonly servers: readonly string[];
  private readonly pool: ServerPool;
  private readonly udp: Transport;
  private readonly tcp: Transport;
  /** Names whose UDP answers came back truncated: asked over TCP first for a while (truncation-memo.ts). */
  private readonly truncated = new TruncationMemo(TCP_FIRST_MS, TCP_FIRST_MAX_NAMES);
  private readonly timeoutMs: number;
  private readonly attempts: number;
  private readonly edns: number;
  private readonly use0x20: boolean;
  private readonly guard: AddressGuard | undefined;
  private readonly maxLinks: number;
  private readonly now: () => number;
  private readonly metrics: DnsMetrics | undefined;
  /** One singleflight per record type, keyed by name: no per-lookup key string to build and hash. */
  private readonly flights: Readonly<Record<RecordType, Singleflight<Answer>>> = {
    A: new Singleflight(),
    AAAA: new Singleflight(),
    SRV: new Singleflight(),
    TXT: new Singleflight(),
  };
  private closed = false;

  constructor(opts: ResolverOptions) {
    const needConf =
      opts.servers === undefined || opts.timeoutMs === undefined || opts.attempts === undefined;
    let conf: ReturnType<typeof loadResolvConf> | undefined;
    if (needConf) {
      try {
        conf = loadResolvConf(opts.resolvConfPath ?? RESOLV_CONF_PATH);
      } catch (e) {
        if (opts.servers === undefined) throw e;
      }
    }
    const serverSpecs = opts.servers ?? conf?.servers ?? [];
    if (serverSpecs.length === 0) throw new DnsError("ERR_DNS_BAD_CONFIG", "no DNS servers configured");
    const addresses: ServerAddress[] = serverSpecs.map(parseServerAddress);
    this.servers = addresses.map((a) => a.key);
    this.timeoutMs = opts.timeoutMs ?? conf?.timeoutMs ?? DEFAULT_TIMEOUT_MS;
    this.attempts = opts.attempts ?? conf?.attempts ?? DEFAULT_ATTEMPTS;
    if (!(this.timeoutMs > 0) || !Number.isInteger(this.attempts) || this.attempts < 1) {
      throw new DnsError("ERR_DNS_BAD_CONFIG", "timeoutMs must be > 0 and attempts an integer ≥ 1");
    }
    this.now = opts.now ?? Date.now;
    this.pool = new ServerPool(addresses, {
      now: this.now,
      random: opts.random ?? Math.random,
      ...(opts.backoff?.baseMs !== undefined ? { backoffBaseMs: opts.backoff.baseMs } : {}),
      ...(opts.backoff?.maxMs !== undefined ? { backoffMaxMs: opts.backoff.maxMs } : {}),
      ...(opts.maxInFlightPerServer !== undefined ? { maxInFlightPerServer: opts.maxInFlightPerServer } : {}),
      ...(opts.maxQueuedPerServer !== undefined ? { maxQueuedPerServer: opts.maxQueuedPerServer } : {}),
    });
    const factory = opts.socketFactory ? { socketFactory: opts.socketFactory } : {};
    this.udp =
      opts.transports?.udp ??
      new UdpTransport({
        ...factory,
        ...(opts.udpMaxQueriesPerSocket !== undefined
          ? { maxQueriesPerSocket: opts.udpMaxQueriesPerSocket }
          : {}),
      });
    this.tcp =
      opts.transports?.tcp ??
      new TcpTransport({
        ...factory,
        ...(opts.tcpIdleMs !== undefined ? { idleMs: opts.tcpIdleMs } : {}),
        now: opts.now ?? Date.now,
        onStray: (why) => this.hook(() => this.metrics?.rejected?.(why)),
        onConnection: (server, event) => this.hook(() => this.metrics?.tcpConnection?.(server, event)),
      });
    this.edns = opts.ednsUdpSize ?? EDNS_UDP_PAYLOAD;
    this.use0x20 = opts.use0x20 ?? false;
    const ranges = opts.rebindingGuard ?? [];
    // One guard for every name this resolver answers, so a generation larger than one cluster's.
    this.guard =
      ranges.length > 0
        ? new AddressGuard({ builtIn: false, denyRanges: ranges, generation: 16_384 })
        : undefined;
    this.maxLinks = opts.maxCnameLinks ?? MAX_CNAME_LINKS;
    this.metrics = opts.metrics;
  }

  private hook(fn: () => void): void {
    try {
      fn();
    } catch {
      // metrics must never break resolution
    }
  }

  // Not async: every async layer between the caller and the socket showed in the cold-path profile.
  resolve(name: string, type: RecordType, options?: ResolveOptions): Promise<Answer> {
    if (this.closed) return Promise.reject(new DnsError("ERR_DNS_CLOSED", "resolver closed"));
    let qname: string;
    try {
      qname = normalizeName(name);
    } catch (e) {
      return Promise.reject(e);
    }
    if (!Object.hasOwn(RECORD_TYPE_CODES, type)) {
      return Promise.reject(
        new DnsError("ERR_DNS_BAD_TYPE", `unsupported record type ${JSON.stringify(type)}`),
      );
    }
    const previous = options?.previous;
    return this.flights[type].do(
      qname,
      (signal) => this.lookup(qname, type, signal, previous),
      options?.signal,
    );
  }

  private async lookup(
    qname: string,
    type: RecordType,
    signal: AbortSignal | undefined,
    previous?: readonly DnsRecord[],
  ): Promise<Answer> {
    const qtype = RECORD_TYPE_CODES[type];
    const chain: ChainState = { start: qname, visited: undefined, links: 0, maxLinks: this.maxLinks };
    let current = qname;
    let ttl = Number.POSITIVE_INFINITY;
    for (let step = 0; step <= this.maxLinks; step++) {
      const { msg, server } = await this.query(current, type, signal);
      const r = interpretReply(msg, current, qtype, chain);
      if (r.kind === "loop") {
        throw new DnsError("ERR_DNS_CNAME_LOOP", `CNAME loop at ${r.name} while resolving ${qname}`, {
          server,
        });
      }
      if (r.kind === "too-long") {
        throw new DnsError(
          "ERR_DNS_CNAME_TOO_LONG",
          `CNAME chain of ${qname} longer than ${this.maxLinks} links`,
          {
            server,
          },
        );
      }
      if (r.kind === "continue") {
        ttl = Math.min(ttl, r.ttl);
        current = normalizeName(r.nextName);
        continue;
      }
      // Not with this resolver's own guard: it may drop records, and the held array is what it kept.
      const records =
        previous !== undefined && this.guard === undefined && sameAddressRecords(r.records, previous)
          ? // Answers never change their records, so the held array can stand for the new one.
            (previous as DnsRecord[])
          : this.toRecords(r.records);
      if (records.length > 0 && records.length < r.records.length) {
        // The rebinding guard dropped some records: their TTLs must not shorten the answer's life.
        ttl = Math.min(ttl, r.linkTtl);
        for (const rec of records) ttl = Math.min(ttl, rec.ttl);
      } else {
        ttl = Math.min(ttl, r.ttl);
      }
      const answer: Answer = {
        name: qname,
        type,
        rcode: r.rcode,
        records,
        ttl: Number.isFinite(ttl) ? ttl : 0,
        server,
        resolvedAt: this.now(),
        stale: false,
      };
      if (type === "SRV" && records.length > 0) await this.addSrvTargets(answer, msg, r.finalName, signal);
      return answer;
    }
    throw new DnsError(
      "ERR_DNS_CNAME_TOO_LONG",
      `CNAME chain of ${qname} longer than ${this.maxLinks} links`,
    );
  }

  private toRecords(wire: WireRecord[]): DnsRecord[] {
    const out: DnsRecord[] = [];
    for (const r of wire) {
      const d = r.data;
      if (d.kind === "A" || d.kind === "AAAA") {
        if (this.guard && !this.guard.allows(d.address)) {
          this.hook(() => this.metrics?.rejected?.("rebinding"));
          continue;
        }
        out.push({ type: d.kind, address: d.address, ttl: r.ttl });
      } else if (d.kind === "SRV") {
        out.push({
          type: "SRV",
          priority: d.priority,
          weight: d.weight,
          port: d.port,
          target: d.target,
          ttl: r.ttl,
        });
      } else if (d.kind === "TXT") {
        out.push({ type: "TXT", strings: d.strings, ttl: r.ttl });
      }
    }
    // The next refresh's unchanged check (ResolveOptions.previous) then needs no parse of these addresses.
    if (this.guard === undefined) noteAddressNumbers(out, wire);
    return out;
  }

  private async addSrvTargets(
    answer: Answer,
    msg: WireMessage,
    srvName: string,
    signal: AbortSignal | undefined,
  ) {
    const bailiwick = srvBailiwick(msg, srvName);
    const targets = new Map<string, { a: DnsRecord[]; aaaa: DnsRecord[] }>();
    const followUps: string[] = [];
    const errors = new Map<string, string>();
    for (const rec of answer.records) {
      if (rec.type !== "SRV" || rec.target === "." || targets.has(rec.target)) continue;
      // A target must be a host name (RFC 2782): anything else is neither looked up nor used.
      const bad = nameProblem(rec.target, "host");
      if (bad !== undefined) {
        targets.set(rec.target, { a: [], aaaa: [] });
        errors.set(rec.target, `not a host name: ${bad}`);
        continue;
      }
      const extra = addressesFromAdditional(msg, rec.target, bailiwick);
      if (extra) {
        const entry = { a: this.toRecords(extra.a), aaaa: this.toRecords(extra.aaaa) };
        targets.set(rec.target, entry);
        for (const r of [...entry.a, ...entry.aaaa]) answer.ttl = Math.min(answer.ttl, r.ttl);
      } else {
        targets.set(rec.target, { a: [], aaaa: [] });
        if (followUps.length < MAX_SRV_TARGET_LOOKUPS) followUps.push(rec.target);
      }
    }
    // One failed follow-up must not fail the SRV lookup: the cache would then keep serving the old SRV
    // answer, freezing every target on stale data. The failed target is left without addresses and
    // named in `targetErrors`; the endpoints stage tracks each target's own lookup, which keeps its
    // last good addresses and reports the failure.
    await Promise.all(
      followUps.map(async (target) => {
        try {
          const [a, aaaa] = await Promise.all([
            this.flights.A.do(target, (s) => this.lookup(target, "A", s), signal),
            this.flights.AAAA.do(target, (s) => this.lookup(target, "AAAA", s), signal),
          ]);
          targets.set(target, { a: a.records, aaaa: aaaa.records });
          answer.ttl = Math.min(answer.ttl, a.ttl, aaaa.ttl);
        } catch (e) {
          if (signal?.aborted || this.closed) throw e;
          errors.set(target, `${(e as { code?: string }).code ?? "error"}: ${(e as Error).message}`);
        }
      }),
    );
    answer.targets = targets;
    if (errors.size > 0) answer.targetErrors = errors;
  }

  /** One question answered by some server: failover over the pool for `attempts` rounds. */
  private async query(name: string, type: RecordType, signal: AbortSignal | undefined): Promise<QueryResult> {
    let lastErr: unknown;
    let lastServer: string | undefined;
    for (let round = 0; round < this.attempts; round++) {
      const plan = this.pool.plan();
      try {
        for (const cand of plan) {
          const s = cand.state;
          if (lastServer !== undefined && lastServer !== s.address.key) {
            const from = lastServer;
            this.hook(() => this.metrics?.failover?.(from, s.address.key));
          }
          lastServer = s.address.key;
          let msg: WireMessage;
          try {
            msg = await this.tryServer(s, name, type, signal);
          } catch (e) {
            if (this.closed) throw new DnsError("ERR_DNS_CLOSED", "resolver closed");
            if (
              signal?.aborted ||
              (isDnsError(e) && (e.code === "ERR_DNS_ABORTED" || e.code === "ERR_DNS_OVERLOADED"))
            ) {
              throw e;
            }
            cand.settled = true;
            this.pool.failed(s);
            lastErr = e;
            continue;
          }
          cand.settled = true;
          if (msg.rcode === RCODE_NOERROR || msg.rcode === RCODE_NXDOMAIN) {
            this.pool.succeeded(s);
            return { msg, server: s.address.key };
          }
          this.pool.failed(s);
          lastErr = rcodeError(msg.rcode, s.address.key);
        }
      } finally {
        for (const c of plan) if (!c.settled) this.pool.release(c);
      }
    }
    if (this.pool.servers.length === 1 && isDnsError(lastErr)) throw lastErr;
    throw new DnsError(
      "ERR_DNS_ALL_SERVERS_FAILED",
      `every DNS server failed for ${name} ${type}: ${(lastErr as Error | undefined)?.message ?? "no servers"}`,
      { cause: lastErr },
    );
  }

  /** The EDNS payload size to advertise to a server: none while it is known to reject EDNS. */
  private ednsFor(s: ServerState): number {
    return s.noEdnsUntil !== 0 && this.now() < s.noEdnsUntil ? 0 : this.edns;
  }

  /** One TCP exchange with a fresh query ID (no 0x20: TCP is not open to off-path spoofing). */
  private sendTcp(
    s: ServerState,
    name: string,
    type: RecordType,
    signal: AbortSignal | undefined,
    onReject: ((reason: RejectReason) => void) | undefined,
  ): Promise<WireMessage> {
    const tcpId = randomQueryId();
    return this.tcp.exchange({
      server: s.address,
      packet: encodeQuery({ id: tcpId, name, type, ednsUdpSize: this.ednsFor(s) }),
      expected: { id: tcpId, wireName: name, type: RECORD_TYPE_CODES[type], caseSensitive: false },
      timeoutMs: this.timeoutMs,
      signal,
      onReject,
    });
  }

  /** One UDP exchange with a fresh query ID (and fresh 0x20 case when on). */
  private sendUdp(
    server: ServerAddress,
    name: string,
    type: RecordType,
    edns: number,
    use0x20: boolean,
    signal: AbortSignal | undefined,
    onReject: ((reason: RejectReason) => void) | undefined,
  ): Promise<WireMessage> {
    const id = randomQueryId();
    const wireName = use0x20 ? randomizeCase(name, randomBytesFromPool(8)) : name;
    return this.udp.exchange({
      server,
      packet: encodeQuery({ id, name: wireName, type, ednsUdpSize: edns }),
      expected: { id, wireName, type: RECORD_TYPE_CODES[type], caseSensitive: use0x20 },
      timeoutMs: this.timeoutMs,
      signal,
      onReject,
    });
  }

  /**
   * One try against one server: UDP, then TCP when the UDP reply is truncated; straight to TCP for a name
   * whose UDP reply from this server was truncated lately (TruncationMemo).
   */
  private async tryServer(
    s: ServerState,
    name: string,
    type: RecordType,
    signal: AbortSignal | undefined,
  ): Promise<WireMessage> {
    // A free slot is taken synchronously; only a full server costs a wait (and a release closure).
    const release = s.limiter.tryAcquire() ? undefined : await s.limiter.acquire(signal);
    const t0 = this.metrics?.query ? performance.now() : 0;
    const server = s.address;
    const use0x20 = this.use0x20 && !s.no0x20;
    let caseMismatches = 0;
    const onReject =
      use0x20 || this.metrics?.rejected
        ? (reason: RejectReason) => {
            if (reason === "question-case") caseMismatches++;
            this.hook(() => this.metrics?.rejected?.(reason));
          }
        : undefined;
    const tcpKey = `${server.key}\0${type}\0${name}`;
    try {
      let msg: WireMessage;
      if (this.truncated.tcpFirst(tcpKey, this.now())) {
        msg = await this.sendTcp(s, name, type, signal, onReject);
      } else {
        try {
          const edns = this.ednsFor(s);
          msg = await this.sendUdp(server, name, type, edns, use0x20, signal, onReject);
          if (edns > 0 && ednsRejected(msg)) {
            // RFC 6891 §7: a server that does not know EDNS may answer FORMERR/NOTIMP without an OPT
            // record; ask it again without EDNS and remember that for this server.
            msg = await this.sendUdp(server, name, type, 0, use0x20, signal, onReject);
            if (!ednsRejected(msg)) s.noEdnsUntil = this.now() + NO_EDNS_RETRY_MS;
          }
        } catch (e) {
          if (use0x20 && caseMismatches > 0 && isDnsError(e) && e.code === "ERR_DNS_TIMEOUT") {
            // Only wrong-case replies came back: the server may not echo case. Fall back after a few.
            s.caseMismatches++;
            if (s.caseMismatches >= CASE_MISMATCHES_BEFORE_FALLBACK) s.no0x20 = true;
          }
          throw e;
        }
        if (use0x20) s.caseMismatches = 0;
        if (msg.tc) {
          this.hook(() => this.metrics?.query?.(server.key, "truncated", performance.now() - t0));
          this.truncated.note(tcpKey, this.now());
          msg = await this.sendTcp(s, name, type, signal, onReject);
        }
      }
      if (this.metrics?.query) {
        const out = outcomeOf(msg);
        this.hook(() => this.metrics?.query?.(server.key, out, performance.now() - t0));
      }
      return msg;
    } catch (e) {
      if (this.metrics?.query) {
        const out = errorOutcome(e);
        this.hook(() => this.metrics?.query?.(server.key, out, performance.now() - t0));
      }
      throw e;
    } finally {
      if (release) release();
      else s.limiter.releaseSlot();
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const s of this.pool.servers) s.limiter.failAll(new DnsError("ERR_DNS_CLOSED", "resolver closed"));
    await Promise.all([this.udp.close(), this.tcp.close()]);
  }
}

/** Creates a resolver; throws DnsError ERR_DNS_BAD_CONFIG on bad options. */
export function createResolver(opts: ResolverOptions = {}): DnsResolver {
  return new StubResolver(opts);
}
