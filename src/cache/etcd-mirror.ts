/**
 * Keeps this replica's view of everything under `${prefix}v1/` in step with etcd: one list (in pages,
 * etcd-paged-list.ts), then one watch from the listed revision, events dispatched to the sub-prefix
 * handlers (dns/, health/, owners/, members/) with each key's lease, so a handler can tell a value a
 * live replica wrote from one somebody put by hand. Any watch error (compaction cancels the watch and
 * the etcd3 client only emits an error), disconnect or failed write moves the mirror to "degraded"; a
 * backoff loop then re-lists, hands each handler a full snapshot to reconcile against, and re-watches
 * from the new revision.
 */
import type { Etcd3, IKeyValue, Watcher } from "etcd3";
import type { Logger } from "pino";
import { backoffDelay } from "../dns/backoff.js";
import { PagedLister } from "./etcd-paged-list.js";

export type MirrorState = "connected" | "degraded";

/** One key as a handler sees it: the value and the lease it is attached to ("0" = none). */
export interface MirrorKv {
  value: Buffer;
  lease: string;
}

export interface MirrorHandler {
  put(key: string, kv: MirrorKv): void;
  delete(key: string): void;
  /** Everything under the handler's sub-prefix after a (re)list, keys relative to it. */
  snapshot(entries: Map<string, MirrorKv>): void;
}

const kvOf = (kv: IKeyValue): MirrorKv => ({ value: kv.value, lease: String(kv.lease ?? "0") });

export interface MirrorStats {
  relists: number;
  watchErrors: number;
  failures: number;
  revision: number;
  /** Range requests of the last listing. */
  listPages: number;
}

export interface EtcdMirrorOptions {
  client: Etcd3;
  /** Key prefix, e.g. "/dns-eds/"; the mirror owns `${prefix}v1/`. */
  prefix: string;
  backoffBaseMs?: number;
  backoffMaxMs?: number;
  logger?: Logger;
  random?: () => number;
  /** Keys per Range request when listing (default 500; halved while a page is over the size limit). */
  listPageKeys?: number;
}

export class EtcdMirror {
  readonly client: Etcd3;
  /** `${prefix}v1/` */
  readonly root: string;
  private readonly handlers = new Map<string, MirrorHandler>();
  private readonly stateListeners = new Set<(s: MirrorState) => void>();
  private stateValue: MirrorState = "degraded";
  private watcher: Watcher | undefined;
  private revision = 0;
  private closed = false;
  private suspended = false;
  private loopRunning = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private wake: (() => void) | undefined;
  private readonly backoffBaseMs: number;
  private readonly backoffMaxMs: number;
  private readonly logger: Logger | undefined;
  private readonly random: () => number;
  private readonly counters = { relists: 0, watchErrors: 0, failures: 0, listPages: 0 };
  private readonly lister: PagedLister;

  constructor(opts: EtcdMirrorOptions) {
    this.client = opts.client;
    this.root = `${opts.prefix}v1/`;
    this.backoffBaseMs = opts.backoffBaseMs ?? 100;
    this.backoffMaxMs = opts.backoffMaxMs ?? 5000;
    this.logger = opts.logger;
    this.random = opts.random ?? Math.random;
    this.lister = new PagedLister(opts.client, opts.listPageKeys);
  }

  /** Registers a handler for `${root}${sub}`; call before start(). */
  subscribe(sub: string, handler: MirrorHandler): void {
    this.handlers.set(sub, handler);
  }

  /** One synchronous attempt to connect; on failure the mirror stays degraded and keeps retrying. */
  async start(): Promise<void> {
    if (await this.reconcile()) return;
    this.ensureLoop();
  }

  state(): MirrorState {
    return this.stateValue;
  }

  stats(): MirrorStats {
    return { ...this.counters, revision: this.revision };
  }

  onState(cb: (s: MirrorState) => void): () => void {
    this.stateListeners.add(cb);
    return () => this.stateListeners.delete(cb);
  }

  /** A caller's etcd operation failed: go degraded and reconcile once etcd answers again. */
  reportFailure(err: unknown): void {
    if (this.closed) return;
    this.counters.failures++;
    this.logger?.warn({ err }, "etcd operation failed; cache tier degraded");
    this.dropWatcher();
    this.setState("degraded");
    this.ensureLoop();
  }

  /** Stops applying watch events, remembering the revision (maintenance, and the compaction test). */
  async suspendWatch(): Promise<void> {
    this.suspended = true;
    const w = this.watcher;
    this.watcher = undefined;
    if (w) await w.cancel().catch(() => undefined);
  }

  /** Resumes watching from the remembered revision; if it was compacted, re-lists. */
  async resumeWatch(): Promise<void> {
    this.suspended = false;
    try {
      await this.watchFrom(this.revision + 1);
    } catch (err) {
      this.counters.watchErrors++;
      this.reportFailure(err);
    }
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.wake?.();
    const w = this.watcher;
    this.watcher = undefined;
    if (!w) return;
    w.removeAllListeners();
    w.on("error", () => undefined);
    // Cancelling waits for etcd's confirmation; a hung member must not hang shutdown.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      w.cancel().catch(() => undefined),
      new Promise<void>((r) => {
        timer = setTimeout(r, 1000);
      }),
    ]);
    if (timer) clearTimeout(timer);
  }

  private setState(s: MirrorState): void {
    if (this.stateValue === s) return;
    this.stateValue = s;
    for (const cb of this.stateListeners) {
      try {
        cb(s);
      } catch (err) {
        this.logger?.error({ err }, "mirror state listener threw");
      }
    }
  }

  private dropWatcher(): void {
    const w = this.watcher;
    this.watcher = undefined;
    if (w) {
      w.removeAllListeners();
      w.on("error", () => undefined);
      w.cancel().catch(() => undefined);
    }
  }

  private ensureLoop(): void {
    if (this.loopRunning || this.closed) return;
    this.loopRunning = true;
    void this.loop().finally(() => {
      this.loopRunning = false;
    });
  }

  private async loop(): Promise<void> {
    for (let attempt = 0; !this.closed && this.stateValue === "degraded"; attempt++) {
      const delay = backoffDelay(attempt, {
        baseMs: this.backoffBaseMs,
        maxMs: this.backoffMaxMs,
        jitter: 0.5,
        random: this.random,
      });
      await new Promise<void>((resolve) => {
        this.wake = resolve;
        this.retryTimer = setTimeout(resolve, delay);
      });
      this.wake = undefined;
      if (this.closed) return;
      if (await this.reconcile()) return;
    }
  }

  /** List everything, hand out snapshots, watch from the listed revision. True when connected. */
  private async reconcile(): Promise<boolean> {
    try {
      const res = await this.lister.list(this.root);
      const rev = res.revision;
      const perHandler = new Map<string, Map<string, MirrorKv>>();
      for (const sub of this.handlers.keys()) perHandler.set(sub, new Map());
      for (const kv of res.kvs) {
        const rel = kv.key.toString().slice(this.root.length);
        for (const [sub, m] of perHandler) {
          if (rel.startsWith(sub)) m.set(rel.slice(sub.length), kvOf(kv));
        }
      }
      this.counters.relists++;
      this.counters.listPages = res.pages;
      this.revision = rev;
      for (const [sub, m] of perHandler) {
        try {
          this.handlers.get(sub)?.snapshot(m);
        } catch (err) {
          this.logger?.error({ err, sub }, "snapshot handler threw");
        }
      }
      if (!this.suspended) await this.watchFrom(rev + 1);
      this.setState("connected");
      return true;
    } catch (err) {
      this.dropWatcher();
      this.logger?.debug({ err }, "etcd reconcile failed");
      return false;
    }
  }

  private async watchFrom(startRevision: number): Promise<void> {
    this.dropWatcher();
    const w = this.client.watch().prefix(this.root).startRevision(String(startRevision)).watcher();
    this.watcher = w;
    w.on("put", (kv) => this.dispatch(kv, "put"));
    w.on("delete", (kv) => this.dispatch(kv, "delete"));
    w.on("data", (res) => {
      const r = Number(res.header.revision);
      if (r > this.revision) this.revision = r;
    });
    const failed = (err: unknown) => {
      if (this.watcher !== w) return;
      this.counters.watchErrors++;
      this.reportFailure(err);
    };
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("watch not created in time")), 5000);
      w.once("connected", () => {
        clearTimeout(t);
        resolve();
      });
      w.once("error", (err) => {
        clearTimeout(t);
        reject(err);
      });
      w.once("disconnected", (err) => {
        clearTimeout(t);
        reject(err);
      });
    });
    w.on("error", failed);
    w.on("disconnected", failed);
  }

  private dispatch(kv: IKeyValue, op: "put" | "delete"): void {
    const rev = Number(kv.mod_revision);
    if (rev > this.revision) this.revision = rev;
    const rel = kv.key.toString().slice(this.root.length);
    for (const [sub, h] of this.handlers) {
      if (!rel.startsWith(sub)) continue;
      try {
        if (op === "put") h.put(rel.slice(sub.length), kvOf(kv));
        else h.delete(rel.slice(sub.length));
      } catch (err) {
        this.logger?.error({ err, key: rel }, "watch handler threw");
      }
    }
  }
}
