/**
 * Where endpoint health lives: a local map, and with etcd configured also keys
 * `${prefix}v1/health/${endpointKey}` so every replica serves the same health whichever replica
 * checked it. Implements the `HealthSink` contract of src/health/types.ts. Writes made while etcd is
 * unreachable apply locally at once and are replayed on reconnect (latest value per key).
 */
import type { Logger } from "pino";
import type { EndpointHealth, HealthSink } from "../health/types.js";
import type { EtcdMirror } from "./etcd-mirror.js";

const HEALTH_VALUES: ReadonlySet<string> = new Set(["UNKNOWN", "HEALTHY", "UNHEALTHY", "DRAINING"]);
export const HEALTH_SUBPREFIX = "health/";

export class HealthStore implements HealthSink {
  private readonly values = new Map<string, EndpointHealth>();
  private readonly listeners = new Set<(key: string, health: EndpointHealth) => void>();
  private readonly pending = new Map<string, EndpointHealth>();
  private readonly mirror: EtcdMirror | undefined;
  private readonly logger: Logger | undefined;

  constructor(opts: { mirror?: EtcdMirror; logger?: Logger } = {}) {
    this.mirror = opts.mirror;
    this.logger = opts.logger;
    const m = this.mirror;
    if (!m) return;
    m.subscribe(HEALTH_SUBPREFIX, {
      put: (key, value) => this.applyRemote(key, value.toString()),
      // A vanished health key means "no opinion", not "unhealthy": keep what we serve.
      delete: () => undefined,
      snapshot: (entries) => {
        for (const [key, value] of entries) this.applyRemote(key, value.toString());
      },
    });
    m.onState((s) => {
      if (s === "connected") void this.replay();
    });
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
    if (m.state() !== "connected") {
      this.pending.set(key, health);
      return;
    }
    try {
      await m.client.put(`${m.root}${HEALTH_SUBPREFIX}${key}`).value(health).exec();
      if (this.pending.get(key) === health) this.pending.delete(key);
    } catch (err) {
      this.pending.set(key, health);
      m.reportFailure(err);
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

  private applyRemote(key: string, value: string): void {
    if (!HEALTH_VALUES.has(value)) {
      this.logger?.warn({ key, value }, "unknown health value in etcd; ignored");
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
