/**
 * Ordered DNS servers with health: a server that fails (timeout, SERVFAIL/REFUSED/NOTIMP, garbage,
 * network error) is marked down for an exponentially growing, jittered time; while down it is tried
 * only after the healthy ones, except that once its down time has passed one lookup at a time may probe
 * it in its configured position (bounded probing), so a recovered primary is used again. When every
 * server is down they are still tried, soonest-recovering first: a total outage must not stop lookups.
 */
import { backoffDelay } from "./backoff.js";
import { InflightLimiter } from "./inflight-limiter.js";
import type { ServerAddress } from "./server-address.js";

/** First down time after a failure. */
export const DOWN_BACKOFF_BASE_MS = 500;
/** Longest down time, however many failures in a row. */
export const DOWN_BACKOFF_MAX_MS = 30_000;
/** Down time is drawn from [(1 - JITTER) × backoff, backoff] so servers do not recover in lockstep. */
export const DOWN_BACKOFF_JITTER = 0.5;
/** Default bound on queries in flight per server. */
export const DEFAULT_MAX_INFLIGHT_PER_SERVER = 256;
/** Default bound on lookups waiting for a slot per server. */
export const DEFAULT_MAX_QUEUED_PER_SERVER = 10_000;
/** How long a server that rejected EDNS is queried without it before EDNS is tried again. */
export const NO_EDNS_RETRY_MS = 15 * 60_000;
/** Replies with wrong 0x20 case that disable 0x20 for a server (it does not echo case). */
export const CASE_MISMATCHES_BEFORE_FALLBACK = 2;

export interface ServerState {
  readonly address: ServerAddress;
  readonly limiter: InflightLimiter;
  failures: number;
  downUntil: number;
  probing: boolean;
  /** 0x20 disabled for this server after it failed to echo the case. */
  no0x20: boolean;
  /**
   * Until when (ms, the pool's clock) EDNS is left off for this server, after it answered FORMERR or
   * NOTIMP without OPT to an EDNS query; 0 = EDNS on. Expires so an upgraded server gets EDNS again.
   */
  noEdnsUntil: number;
  caseMismatches: number;
}

export interface ServerPoolOptions {
  now: () => number;
  random: () => number;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  maxInFlightPerServer?: number;
  maxQueuedPerServer?: number;
}

export interface Candidate {
  state: ServerState;
  /** True when this try is the one probe allowed to a down server. */
  probe: boolean;
  /** Set by the caller once succeeded()/failed() gave a verdict; unsettled probes must be released. */
  settled: boolean;
}

export class ServerPool {
  readonly servers: ServerState[];
  private readonly now: () => number;
  private readonly random: () => number;
  private readonly baseMs: number;
  private readonly maxMs: number;

  constructor(addresses: ServerAddress[], opts: ServerPoolOptions) {
    this.now = opts.now;
    this.random = opts.random;
    this.baseMs = opts.backoffBaseMs ?? DOWN_BACKOFF_BASE_MS;
    this.maxMs = opts.backoffMaxMs ?? DOWN_BACKOFF_MAX_MS;
    const limit = opts.maxInFlightPerServer ?? DEFAULT_MAX_INFLIGHT_PER_SERVER;
    const queued = opts.maxQueuedPerServer ?? DEFAULT_MAX_QUEUED_PER_SERVER;
    this.servers = addresses.map((address) => ({
      address,
      limiter: new InflightLimiter(limit, queued),
      failures: 0,
      downUntil: 0,
      probing: false,
      no0x20: false,
      noEdnsUntil: 0,
      caseMismatches: 0,
    }));
  }

  isDown(s: ServerState): boolean {
    return s.failures > 0 && this.now() < s.downUntil;
  }

  /**
   * The order to try servers in for one lookup round. Up servers keep configured order; a down server
   * whose time has passed and that no one is probing is taken as a probe in its configured position;
   * other down servers go last, soonest-recovering first.
   */
  plan(): Candidate[] {
    const now = this.now();
    const first: Candidate[] = [];
    const last: ServerState[] = [];
    for (const s of this.servers) {
      if (s.failures === 0) first.push({ state: s, probe: false, settled: false });
      else if (now >= s.downUntil && !s.probing) {
        s.probing = true;
        first.push({ state: s, probe: true, settled: false });
      } else last.push(s);
    }
    last.sort((a, b) => a.downUntil - b.downUntil);
    for (const s of last) first.push({ state: s, probe: false, settled: false });
    return first;
  }

  /** Ends a probe without a verdict (e.g. the lookup was answered elsewhere or aborted). */
  release(c: Candidate): void {
    if (c.probe) c.state.probing = false;
  }

  succeeded(s: ServerState): void {
    s.failures = 0;
    s.downUntil = 0;
    s.probing = false;
  }

  failed(s: ServerState): void {
    s.failures++;
    s.downUntil =
      this.now() +
      backoffDelay(s.failures - 1, {
        baseMs: this.baseMs,
        maxMs: this.maxMs,
        jitter: DOWN_BACKOFF_JITTER,
        random: this.random,
      });
    s.probing = false;
  }
}
