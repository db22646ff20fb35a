/**
 * The last rejection (NACK) of each served resource, for the `/clusters` page: which client refused
 * which version and why. Bounded: the oldest entries go first past `maxEntries`, so a fleet rejecting
 * many names costs a fixed amount of memory.
 */

export interface NackEntry {
  /** Resource type label, e.g. "endpoint", "cluster". */
  type: string;
  version: string;
  node: string;
  detail: string;
  /** ISO time of the NACK. */
  at: string;
}

const TYPE_LABEL: Readonly<Record<string, string>> = {
  "type.googleapis.com/envoy.config.cluster.v3.Cluster": "cluster",
  "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": "endpoint",
  "type.googleapis.com/envoy.config.listener.v3.Listener": "listener",
  "type.googleapis.com/envoy.config.route.v3.RouteConfiguration": "route",
};

export class NackLog {
  private readonly byKey = new Map<string, NackEntry>();

  constructor(
    private readonly maxEntries = 10_000,
    private readonly now: () => number = Date.now,
  ) {}

  record(
    typeUrl: string,
    detail: string,
    rejected?: { node: string; resources: ReadonlyArray<{ name: string; version: string }> },
  ): void {
    const type = TYPE_LABEL[typeUrl] ?? typeUrl;
    const at = new Date(this.now()).toISOString();
    for (const r of rejected?.resources ?? []) {
      const key = `${r.name}\u0000${type}`;
      this.byKey.delete(key); // re-insert: most recent last
      this.byKey.set(key, { type, version: r.version, node: rejected?.node ?? "", detail, at });
    }
    while (this.byKey.size > this.maxEntries) {
      const oldest = this.byKey.keys().next().value;
      if (oldest === undefined) break;
      this.byKey.delete(oldest);
    }
  }

  /** The last NACK of each resource type named `name` (a cluster's Cluster, CLA, Listener, Route). */
  forName(name: string): NackEntry[] {
    const out: NackEntry[] = [];
    for (const type of Object.values(TYPE_LABEL)) {
      const e = this.byKey.get(`${name}\u0000${type}`);
      if (e) out.push(e);
    }
    return out;
  }
}
