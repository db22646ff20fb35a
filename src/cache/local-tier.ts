/**
 * In-process tier: an LRU bounded by entries and approximate bytes. Entries are kept past their TTL
 * (until the serve-stale horizon) because the last good answer is what a DNS outage is served from;
 * freshness is decided against the injected clock on read, not by lru-cache's own timers.
 */
import { LRUCache } from "lru-cache";
import type { Answer } from "../dns/types.js";
import { cachedAnswer } from "./cached-answer.js";

export interface LocalEntry {
  /** The answer as served while fresh (stale=false). Shared and never mutated. */
  readonly answer: Answer;
  readonly expiresAt: number;
  readonly staleUntil: number;
  readonly resolvedBy: string;
  /** Unix ms of the last upstream attempt made while the entry was stale (rate-limits refreshes). */
  lastStaleRefresh: number;
  /** The same answer flagged stale, built once on first stale serve. */
  staleAnswer?: Answer;
}

export type Lookup =
  | { state: "fresh"; entry: LocalEntry }
  | { state: "stale"; entry: LocalEntry }
  | { state: "miss"; entry?: undefined };

export interface LocalTierStats {
  entries: number;
  bytes: number;
  hits: number;
  misses: number;
  staleHits: number;
  evictions: number;
}

export interface LocalTierOptions {
  maxEntries?: number;
  maxBytes?: number;
}

const MISS: Lookup = { state: "miss" };
/**
 * Shared options object for lru-cache's get(): without one it allocates `{}` per call. Not frozen:
 * lru-cache writes `status` into it.
 */
const GET_OPTS: LRUCache.GetOptions<string, LocalEntry, unknown> = {};

function approxBytes(entry: LocalEntry): number {
  const a = entry.answer;
  let n = 160 + a.name.length * 2 + a.server.length * 2;
  // An A or AAAA answer holds only address records, all of one estimated size: no pass over a thousand
  // records on every refresh of a large name. SRV targets vary, so those are counted.
  if (a.type === "A" || a.type === "AAAA") n += a.records.length * 72;
  else
    for (const r of a.records) n += r.type === "SRV" ? 120 + r.target.length * 2 : r.type === "TXT" ? 80 : 72;
  if (a.targets) for (const [k, t] of a.targets) n += 80 + k.length * 2 + (t.a.length + t.aaaa.length) * 72;
  return n;
}

export class LocalTier {
  private readonly lru: LRUCache<string, LocalEntry>;
  private hits = 0;
  private misses = 0;
  private staleHits = 0;
  private evictions = 0;

  constructor(opts: LocalTierOptions = {}) {
    this.lru = new LRUCache<string, LocalEntry>({
      max: opts.maxEntries ?? 100_000,
      maxSize: opts.maxBytes ?? 256 * 1024 * 1024,
      sizeCalculation: approxBytes,
      dispose: (_v, _k, reason) => {
        if (reason === "evict") this.evictions++;
      },
    });
  }

  /** Classifies the entry for `key` at `now` and counts it. Hot path: no allocation on a fresh hit. */
  lookup(key: string, now: number): Lookup {
    const entry = this.lru.get(key, GET_OPTS);
    if (entry === undefined) {
      this.misses++;
      return MISS;
    }
    if (now < entry.expiresAt) {
      this.hits++;
      return { state: "fresh", entry };
    }
    if (now < entry.staleUntil) {
      this.staleHits++;
      return { state: "stale", entry };
    }
    this.lru.delete(key);
    this.misses++;
    return MISS;
  }

  /** The fresh answer or undefined, without the Lookup wrapper: the cached read path. */
  fresh(key: string, now: number): Answer | undefined {
    const entry = this.lru.get(key, GET_OPTS);
    if (entry !== undefined && now < entry.expiresAt) {
      this.hits++;
      return entry.answer;
    }
    return undefined;
  }

  /** Entry without touching recency or counters. */
  peek(key: string): LocalEntry | undefined {
    return this.lru.peek(key);
  }

  /**
   * Stores an entry unless the tier already holds a newer answer for the key (watch events and
   * our own writes can arrive in either order). Returns whether it was stored.
   */
  set(key: string, entry: LocalEntry): boolean {
    const cur = this.lru.peek(key);
    if (cur && cur.answer.resolvedAt > entry.answer.resolvedAt) return false;
    if (cur && cur.answer.resolvedAt === entry.answer.resolvedAt && cur.resolvedBy === entry.resolvedBy)
      return false;
    this.lru.set(key, entry);
    return true;
  }

  delete(key: string): void {
    this.lru.delete(key);
  }

  keys(): IterableIterator<string> {
    return this.lru.keys();
  }

  get size(): number {
    return this.lru.size;
  }

  stats(): LocalTierStats {
    return {
      entries: this.lru.size,
      bytes: this.lru.calculatedSize,
      hits: this.hits,
      misses: this.misses,
      staleHits: this.staleHits,
      evictions: this.evictions,
    };
  }

  /** Stale copy of an entry's answer, memoised so repeated stale serves do not allocate. */
  static staleAnswerOf(entry: LocalEntry): Answer {
    if (!entry.staleAnswer)
      entry.staleAnswer = cachedAnswer(
        { ...entry.answer, stale: true },
        entry.answer.ttl,
        entry.answer.history,
      );
    return entry.staleAnswer;
  }
}
