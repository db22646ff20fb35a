/**
 * Where endpoint health lives: a local map, and with etcd configured also keys
 * `${prefix}v1/health/${endpointKey}` so every replica serves the same health whichever replica
 * checked it. Implements the `HealthSink` contract of src/health/types.ts. Writes made while etcd is
 * unreachable apply locally at once and are replayed on reconnect (latest value per key).
 *
 * Health keys sit on the writer's session lease, so they go when the replica that checked them goes,
 * and are deleted when their endpoint leaves every cluster (`forget`). A health key read from etcd is
 * applied only when its key is an endpoint (`address|port`), its value a health status, and it sits on
 * the lease of a current member: a key somebody put by hand is rejected, counted and never served.
 */
import { isIP } from "node:net";
import type { Logger } from "pino";
import type { EndpointHealth, HealthSink } from "../health/types.js";
import type { EtcdMirror, MirrorKv } from "./etcd-mirror.js";
import type { EtcdRejections, EtcdRejectReason } from "./etcd-rejections.js";

const HEALTH_VALUES: ReadonlySet<string> = new Set(["UNKNOWN", "HEALTHY", "UNHEALTHY", "DRAINING"]);
export const HEALTH_SUBPREFIX = "health/";

/** What the store needs from name ownership: whose lease a key may sit on, and our own. */
export interface HealthLeases {
  isMemberLease(lease: string): boolean;
  sessionLease(): string | undefined;
  /** Whether this replica checks the endpoint (and so writes its key). */
  owns(key: string): boolean;
  /** Fires when the session (and so our lease) may have changed. */
  onChange(cb: () => void): () => void;
}

export interface HealthStoreOptions {
  mirror?: EtcdMirror;
  leases?: HealthLeases;
  rejections?: EtcdRejections;
  logger?: Logger;
}

/** Why a health key is not an endpoint key (`address|port`, IPv6 without brackets), or undefined. */
export function healthKeyProblem(key: string): string | undefined {
  const bar = key.lastIndexOf("|");
  if (bar <= 0) return "not address|port";
  const port = key.slice(bar + 1);
  if (!/^\d{1,5}$/.test(port) || Number(port) < 1 || Number(port) > 65535) return "bad port";
  if (isIP(key.slice(0, bar)) === 0) return "address is not an IP literal";
  return undefined;
}

export class HealthStore implements HealthSink {
  private readonly values = new Map<string, EndpointHealth>();
  private readonly listeners = new Set<(key: string, health: EndpointHealth) => void>();
  private readonly pending = new Map<string, EndpointHealth>();
  private readonly mirror: EtcdMirror | undefined;
  private readonly leases: HealthLeases | undefined;
  private readonly rejections: EtcdRejections | undefined;
  private readonly logger: Logger | undefined;

  constructor(opts: HealthStoreOptions = {}) {
    this.mirror = opts.mirror;
    this.leases = opts.leases;
    this.rejections = opts.rejections;
    this.logger = opts.logger;
    const m = this.mirror;
    if (!m) return;
    m.subscribe(HEALTH_SUBPREFIX, {
      put: (key, kv) => this.applyRemote(key, kv),
      // A vanished health key means "no opinion", not "unhealthy": keep what we serve.
      delete: () => undefined,
      snapshot: (entries) => {
        for (const [key, kv] of entries) this.applyRemote(key, kv);
      },
    });
    m.onState((s) => {
      if (s === "connected") void this.replay();
    });
    // A new session lease: writes that waited for one can go now.
    this.leases?.onChange(() => void this.replay());
  }

  set(key: string, health: EndpointHealth): void {
    const changed = this.applyLocal(key, health);
    if (!this.mirror) return;
    if (!changed && !this.pending.has(key)) return;
    void this.write(key, health);
  }

  get(key: string): EndpointHealth | undefined {
    return this.values.get(key);
  }

  /** The endpoint left every cluster: drop its health here, and its key in etcd if it sits on our lease. */
  forget(key: string): void {
    this.values.delete(key);
    this.pending.delete(key);
    const m = this.mirror;
    const lease = this.leases?.sessionLease();
    if (!m || !lease || m.state() !== "connected") return;
    const full = `${m.root}${HEALTH_SUBPREFIX}${key}`;
    // Only our own key: another replica may own the endpoint by now and have written it anew.
    m.client
      .if(full, "Lease", "==", lease)
      .then(m.client.delete().key(full))
      .commit()
      .catch((err: unknown) => this.logger?.debug({ err, key }, "health key delete failed"));
  }

  onChange(listener: (key: string, health: EndpointHealth) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Number of health writes waiting for etcd. */
  get pendingWrites(): number {
    return this.pending.size;
  }

  private async write(key: string, health: EndpointHealth): Promise<void> {
    const m = this.mirror;
    if (!m) return;
    const lease = this.leases?.sessionLease();
    if (m.state() !== "connected" || (this.leases && !lease)) {
      this.pending.set(key, health);
      return;
    }
    try {
      const put = m.client.put(`${m.root}${HEALTH_SUBPREFIX}${key}`).value(health);
      await (lease ? put.lease(lease) : put).exec();
      if (this.pending.get(key) === health) this.pending.delete(key);
    } catch (err) {
      this.pending.set(key, health);
      // A lost lease is the session's business (it re-grants and fires onChange); anything else degrades.
      if (!(err instanceof Error && /lease not found/i.test(err.message))) m.reportFailure(err);
    }
  }

  private async replay(): Promise<void> {
    for (const [key, health] of [...this.pending]) {
      if (this.values.get(key) !== health) {
        this.pending.delete(key); // superseded by a newer value from etcd
        continue;
      }
      await this.write(key, health);
    }
  }

  private applyRemote(key: string, kv: MirrorKv): void {
    const value = kv.value.toString();
    let why: EtcdRejectReason | undefined;
    let detail = "";
    const kp = healthKeyProblem(key);
    if (kp) {
      why = "bad_key";
      detail = kp;
    } else if (!HEALTH_VALUES.has(value)) {
      why = "bad_value";
      detail = `value ${JSON.stringify(value.slice(0, 32))}`;
    } else if (this.leases && kv.lease === "0") {
      why = "no_lease";
      detail = "not on any replica's session lease";
    } else if (this.leases && !this.leases.isMemberLease(kv.lease)) {
      why = "foreign_lease";
      detail = `lease ${kv.lease} is no member's session`;
    }
    if (why) {
      if (this.rejections) this.rejections.reject("health", why, key, detail);
      else this.logger?.warn({ key, reason: why, detail }, "rejected a health value in etcd; ignored");
      // The put replaced our own key: the checker writes its result back, so replicas that start
      // later find the real value, not the forgery.
      const mine = this.values.get(key);
      if (mine !== undefined && why !== "bad_key" && this.leases?.owns(key)) void this.write(key, mine);
      return;
    }
    // Our own unacknowledged write wins over what etcd held before it.
    if (this.pending.has(key)) return;
    this.applyLocal(key, value as EndpointHealth);
  }

  private applyLocal(key: string, health: EndpointHealth): boolean {
    if (this.values.get(key) === health) return false;
    this.values.set(key, health);
    for (const l of this.listeners) {
      try {
        l(key, health);
      } catch (err) {
        this.logger?.error({ err }, "health listener threw");
      }
    }
    return true;
  }
}
