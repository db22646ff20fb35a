/**
 * One resolver per name across the fleet. Keys (cache keys, endpoint keys, anything) hash to one of
 * N shards; each shard has an owner key `${prefix}v1/owners/${shard}` held by a replica's session
 * lease. Replicas announce themselves under `members/` with the same lease and claim the shards that
 * rendezvous hashing assigns them among live members (create-if-absent transactions, so two replicas
 * never both hold a shard key). When a replica dies its lease expires, etcd deletes its member and
 * owner keys, the watch tells everyone, and the shards are re-claimed: takeover within the session
 * TTL plus the watch round trip. While etcd is unreachable every replica acts alone (owns everything),
 * because a name nobody refreshes is worse than a name refreshed twice.
 *
 * The keys are checked, since anyone who can write the prefix could otherwise take shards (a fake
 * member that then resolves and health-checks nothing): a member key must name a valid replica id,
 * hold a timestamp and sit on a lease; an owner key must name a shard, a member, and sit on that
 * member's lease. Anything else is rejected, counted and ignored, and the shard's rightful owner
 * takes over a key held that way.
 */
import type { Etcd3, Lease } from "etcd3";
import type { Logger } from "pino";
import type { EtcdMirror, MirrorKv } from "./etcd-mirror.js";
import type { EtcdRejections } from "./etcd-rejections.js";
import { rendezvousOwner, shardOf } from "./shard-hash.js";

/** What a replica id may look like in a key (printable, no '/' or spaces). */
const REPLICA_ID = /^[A-Za-z0-9._:@-]{1,253}$/;
export const isReplicaId = (id: string): boolean => REPLICA_ID.test(id);

export interface NameOwnership {
  /** True when this replica should do the work for `key` (resolve, refresh, health-check). */
  owns(key: string): boolean;
  /** Fires after the set of owned keys may have changed. */
  onChange(cb: () => void): () => void;
}

/** Single replica (no etcd): owns everything, never changes. */
export class SoleOwnership implements NameOwnership {
  owns(_key: string): boolean {
    return true;
  }
  onChange(_cb: () => void): () => void {
    return () => undefined;
  }
}

export interface EtcdOwnershipOptions {
  mirror: EtcdMirror;
  replicaId: string;
  /** Shard count (default 64). Every replica of a fleet must use the same value. */
  shards?: number;
  /** Session lease TTL, seconds (default 5): the bulk of the takeover time. */
  sessionTtlSeconds?: number;
  logger?: Logger;
  /** Where rejected member and owner keys are counted and logged. */
  rejections?: EtcdRejections;
}

export interface OwnershipStatus {
  session: "alive" | "none";
  members: string[];
  ownedShards: number[];
  shards: number;
  /** Every shard is held by the replica rendezvous hashing assigns it among the live members. */
  balanced: boolean;
}

export class EtcdNameOwnership implements NameOwnership {
  private readonly mirror: EtcdMirror;
  private readonly client: Etcd3;
  private readonly replicaId: string;
  private readonly shards: number;
  private readonly ttl: number;
  private readonly logger: Logger | undefined;
  private readonly members = new Set<string>();
  /** Lease of each member's key: owner keys (and health keys) must sit on one of these. */
  private readonly memberLeases = new Map<string, string>();
  private readonly owners = new Map<number, string>();
  /** Owner keys that failed their checks, with their lease: the shard's rightful owner replaces them. */
  private readonly invalidOwners = new Map<number, string>();
  private readonly rejections: EtcdRejections | undefined;
  private readonly listeners = new Set<() => void>();
  private session: Lease | undefined;
  private sessionId: string | undefined;
  private owned = new Set<number>();
  private actingAlone = true;
  private closed = false;
  private rebalancing = false;
  private rebalanceAgain = false;
  private rebalanceTimer: NodeJS.Timeout | undefined;

  constructor(opts: EtcdOwnershipOptions) {
    this.mirror = opts.mirror;
    this.client = opts.mirror.client;
    this.replicaId = opts.replicaId;
    this.shards = opts.shards ?? 64;
    this.ttl = opts.sessionTtlSeconds ?? 5;
    this.logger = opts.logger;
    this.rejections = opts.rejections;
    if (!isReplicaId(this.replicaId))
      throw new RangeError("replicaId must be 1..253 letters, digits or . _ : @ - (no '/')");
    opts.mirror.subscribe("members/", {
      put: (k, kv) => {
        this.applyMember(k, kv);
        this.scheduleRebalance();
      },
      delete: (k) => {
        this.members.delete(k);
        this.memberLeases.delete(k);
        this.scheduleRebalance();
      },
      snapshot: (entries) => {
        this.members.clear();
        this.memberLeases.clear();
        for (const [k, kv] of entries) this.applyMember(k, kv);
        this.scheduleRebalance();
      },
    });
    opts.mirror.subscribe("owners/", {
      put: (k, kv) => {
        this.applyOwner(k, kv);
        this.recompute();
        this.scheduleRebalance();
      },
      delete: (k) => {
        this.owners.delete(Number(k));
        this.invalidOwners.delete(Number(k));
        this.recompute();
        this.scheduleRebalance();
      },
      snapshot: (entries) => {
        this.owners.clear();
        this.invalidOwners.clear();
        for (const [k, kv] of entries) this.applyOwner(k, kv);
        this.recompute();
        this.scheduleRebalance();
      },
    });
    opts.mirror.onState((s) => {
      if (s === "connected") {
        void this.ensureSession();
        // A re-list's snapshot schedules a rebalance that may run before the new watch is open, and
        // then skips (not connected yet); the shards would stay where they were until some later
        // event. So look again once connected (the soak's "A kept all 64 shards after a pause").
        this.scheduleRebalance();
      }
      this.recompute();
    });
  }

  /** True when `lease` is the session lease of a current (valid) member: what health keys must sit on. */
  isMemberLease(lease: string): boolean {
    if (lease === "0") return false;
    for (const l of this.memberLeases.values()) if (l === lease) return true;
    return false;
  }

  /** This replica's session lease id, when it has one. */
  sessionLease(): string | undefined {
    return this.sessionId;
  }

  private applyMember(id: string, kv: MirrorKv): void {
    const value = kv.value.toString();
    let why: Parameters<EtcdRejections["reject"]>[1] | undefined;
    if (!isReplicaId(id)) why = "bad_key";
    else if (!/^\d{1,16}$/.test(value)) why = "bad_value";
    else if (kv.lease === "0") why = "no_lease";
    if (why) {
      this.reject(
        "members",
        why,
        id,
        `member ${JSON.stringify(id.slice(0, 64))} = ${JSON.stringify(value.slice(0, 64))}, lease ${kv.lease}`,
      );
      // A rejected put replaces whatever the key held before.
      this.members.delete(id);
      this.memberLeases.delete(id);
      return;
    }
    this.members.add(id);
    this.memberLeases.set(id, kv.lease);
  }

  private applyOwner(key: string, kv: MirrorKv): void {
    const shard = /^\d{1,9}$/.test(key) ? Number(key) : Number.NaN;
    const holder = kv.value.toString();
    let why: Parameters<EtcdRejections["reject"]>[1] | undefined;
    if (!(shard >= 0 && shard < this.shards)) why = "bad_key";
    else if (!isReplicaId(holder)) why = "bad_value";
    else if (kv.lease === "0") why = "no_lease";
    else if (this.memberLeases.get(holder) !== kv.lease) why = "foreign_lease";
    if (why) {
      this.reject(
        "owners",
        why,
        key,
        `owner ${JSON.stringify(key.slice(0, 32))} = ${JSON.stringify(holder.slice(0, 64))}, lease ${kv.lease}`,
      );
      if (shard >= 0 && shard < this.shards) {
        this.owners.delete(shard);
        this.invalidOwners.set(shard, kv.lease);
      }
      return;
    }
    this.invalidOwners.delete(shard);
    this.owners.set(shard, holder);
  }

  private reject(
    kind: "members" | "owners",
    reason: Parameters<EtcdRejections["reject"]>[1],
    key: string,
    detail: string,
  ): void {
    if (this.rejections) this.rejections.reject(kind, reason, key, detail);
    else this.logger?.warn({ kind, reason, key, detail }, "rejected an ownership key in etcd");
  }

  owns(key: string): boolean {
    if (this.actingAlone) return true;
    return this.owned.has(shardOf(key, this.shards));
  }

  onChange(cb: () => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  status(): OwnershipStatus {
    return {
      session: this.sessionId ? "alive" : "none",
      members: [...this.members].sort(),
      ownedShards: [...this.owned].sort((a, b) => a - b),
      shards: this.shards,
      balanced: this.isBalanced(),
    };
  }

  private isBalanced(): boolean {
    if (this.members.size === 0) return false;
    for (let shard = 0; shard < this.shards; shard++) {
      if (this.owners.get(shard) !== rendezvousOwner(shard, this.members)) return false;
    }
    return true;
  }

  /** Registers the session once the mirror is connected (the mirror's onState also calls this). */
  async start(): Promise<void> {
    if (this.mirror.state() === "connected") await this.ensureSession();
    this.recompute();
  }

  /** Graceful: revoke the session so the shards move at once instead of after the TTL. */
  async close(): Promise<void> {
    this.closed = true;
    if (this.rebalanceTimer) clearTimeout(this.rebalanceTimer);
    const s = this.session;
    this.session = undefined;
    this.sessionId = undefined;
    if (!s) return;
    // Bounded: with etcd unreachable the lease simply expires on its own after the TTL.
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      s.revoke().catch(() => undefined),
      new Promise<void>((r) => {
        timer = setTimeout(r, 2000);
      }),
    ]);
    if (timer) clearTimeout(timer);
    s.release();
  }

  /** Crash-like stop: keepalives end, nothing is revoked; etcd expires the session after its TTL. */
  abandon(): void {
    this.closed = true;
    if (this.rebalanceTimer) clearTimeout(this.rebalanceTimer);
    this.session?.removeAllListeners();
    this.session?.release();
    this.session = undefined;
    this.sessionId = undefined;
  }

  private async ensureSession(): Promise<void> {
    if (this.closed || this.session) return;
    const lease = this.client.lease(this.ttl);
    this.session = lease;
    lease.on("lost", (err) => {
      if (this.session !== lease) return;
      this.logger?.warn({ err }, "ownership session lost");
      this.session = undefined;
      this.sessionId = undefined;
      this.recompute();
      if (this.mirror.state() === "connected") void this.ensureSession();
    });
    try {
      const id = await lease.grant();
      await lease.put(`${this.mirror.root}members/${this.replicaId}`).value(String(Date.now())).exec();
      if (this.session !== lease) return;
      this.sessionId = id;
      this.recompute();
      this.scheduleRebalance();
    } catch (err) {
      if (this.session === lease) {
        this.session = undefined;
        lease.release();
      }
      this.mirror.reportFailure(err);
    }
  }

  private recompute(): void {
    const alone = this.mirror.state() !== "connected" || this.sessionId === undefined;
    const next = new Set<number>();
    if (!alone) for (const [shard, owner] of this.owners) if (owner === this.replicaId) next.add(shard);
    let changed = alone !== this.actingAlone || next.size !== this.owned.size;
    if (!changed) for (const s of next) if (!this.owned.has(s)) changed = true;
    this.actingAlone = alone;
    this.owned = next;
    if (changed) {
      for (const cb of this.listeners) {
        try {
          cb();
        } catch (err) {
          this.logger?.error({ err }, "ownership listener threw");
        }
      }
    }
  }

  private scheduleRebalance(): void {
    if (this.closed || this.rebalanceTimer) return;
    // Coalesce a burst of watch events (a snapshot, a member's many owner keys) into one pass.
    this.rebalanceTimer = setTimeout(() => {
      this.rebalanceTimer = undefined;
      void this.rebalance();
    }, 20);
  }

  private async rebalance(): Promise<void> {
    if (this.rebalancing) {
      this.rebalanceAgain = true;
      return;
    }
    this.rebalancing = true;
    try {
      do {
        this.rebalanceAgain = false;
        await this.rebalanceOnce();
      } while (this.rebalanceAgain && !this.closed);
    } finally {
      this.rebalancing = false;
    }
  }

  private async rebalanceOnce(): Promise<void> {
    const sessionId = this.sessionId;
    if (this.closed || !sessionId || this.mirror.state() !== "connected") return;
    if (!this.members.has(this.replicaId)) return; // our announcement has not come back yet
    const ops: Promise<unknown>[] = [];
    for (let shard = 0; shard < this.shards; shard++) {
      const desired = rendezvousOwner(shard, this.members);
      const holder = this.owners.get(shard);
      const key = `${this.mirror.root}owners/${shard}`;
      const invalidLease = this.invalidOwners.get(shard);
      if (desired === this.replicaId && invalidLease !== undefined) {
        // Somebody put a key we rejected here: take the shard over, as long as it still holds that.
        ops.push(
          this.client
            .if(key, "Lease", "==", invalidLease)
            .then(this.client.put(key).value(this.replicaId).lease(sessionId))
            .commit(),
        );
      } else if (desired === this.replicaId && holder === undefined) {
        ops.push(
          this.client
            .if(key, "Create", "==", 0)
            .then(this.client.put(key).value(this.replicaId).lease(sessionId))
            .commit(),
        );
      } else if (holder === this.replicaId && desired !== this.replicaId) {
        ops.push(
          this.client.if(key, "Value", "==", this.replicaId).then(this.client.delete().key(key)).commit(),
        );
      }
    }
    try {
      await Promise.all(ops);
    } catch (err) {
      this.mirror.reportFailure(err);
    }
  }
}
