/**
 * The versioned resource store: the seam between where resources come from (endpoints stage, tests)
 * and how they are streamed. Each resource version is encoded once (see encoded-resource.ts) and every
 * stream reuses those bytes. Publishing is atomic: a batch is validated (what a client would NACK) and
 * checked for consistency (Cluster → CLA, Listener → RouteConfiguration) before anything changes.
 * Watches subscribe by name or wildcard and are told which names changed; the store knows nothing of gRPC.
 */
import type { Message } from "@bufbuild/protobuf";
import { type EncodedResource, encodeResource } from "./encoded-resource.js";
import { XdsError } from "./errors.js";
import { RESOURCE_TYPES } from "./resource-types/registry.js";
import type { ResourceType } from "./resource-types/resource-type.js";
import { isKnownTypeUrl, PUSH_ORDER, TYPE_URLS } from "./type-urls.js";

export interface ResourceUpsert {
  typeUrl: string;
  name: string;
  resource: Message;
  /** Optional per-variant alternatives (zone-aware EDS): key = variant key, e.g. client zone. */
  variants?: ReadonlyMap<string, Message>;
}

export interface PublishBatch {
  upsert?: ResourceUpsert[];
  remove?: { typeUrl: string; name: string }[];
}

/** One changed name as a watch sees it. */
export interface ResourceChange {
  typeUrl: string;
  name: string;
  removed: boolean;
  /** Send even if the client already has this version (a CLA whose Cluster changed). */
  force: boolean;
  /** `now()` at publish, for push latency. */
  at: number;
}

export interface ResourceStoreOptions {
  now?: () => number;
  /** Skip NACK-rule validation (consistency checks still run). Only for tests that need a bad resource. */
  skipValidation?: boolean;
}

export interface StoreWatch {
  /** Replaces this watch's interest in a type: explicit names, and/or every name of the type. */
  setInterest(typeUrl: string, names: Iterable<string>, wildcard: boolean): void;
  close(): void;
}

interface StoredResource {
  base: EncodedResource;
  variants: Map<string, EncodedResource> | undefined;
  /** `now()` of the publish that last changed its content (the default or any variant). */
  updatedAt: number;
}

/** One stored resource as the config dump reads it. */
export interface StoredEntry {
  readonly name: string;
  readonly base: EncodedResource;
  /** Variant key → its encoding (zone-aware EDS); undefined when there are none. */
  readonly variants: ReadonlyMap<string, EncodedResource> | undefined;
  readonly updatedAt: number;
}

interface Interest {
  names: Set<string>;
  wildcard: boolean;
}

class Watch implements StoreWatch {
  readonly interests = new Map<string, Interest>();
  constructor(
    private readonly store: ResourceStore,
    readonly onChange: (changes: ResourceChange[]) => void,
  ) {}
  setInterest(typeUrl: string, names: Iterable<string>, wildcard: boolean): void {
    this.store.reindex(this, typeUrl, { names: new Set(names), wildcard });
  }
  close(): void {
    for (const typeUrl of [...this.interests.keys()]) this.store.reindex(this, typeUrl, undefined);
  }
}

export class ResourceStore {
  private readonly now: () => number;
  private readonly skipValidation: boolean;
  private readonly byType = new Map<string, Map<string, StoredResource>>();
  private readonly watchersByName = new Map<string, Map<string, Set<Watch>>>();
  private readonly wildcardWatchers = new Map<string, Set<Watch>>();
  private gen = 0;

  constructor(opts: ResourceStoreOptions = {}) {
    this.now = opts.now ?? Date.now;
    this.skipValidation = opts.skipValidation ?? false;
    for (const t of PUSH_ORDER) {
      this.byType.set(t, new Map());
      this.watchersByName.set(t, new Map());
      this.wildcardWatchers.set(t, new Set());
    }
  }

  /**
   * Applies a batch atomically. Throws XdsError ERR_XDS_INVALID_RESOURCE / ERR_XDS_INCONSISTENT /
   * ERR_XDS_UNKNOWN_TYPE and leaves the store unchanged. `changed` counts names whose bytes changed.
   */
  publish(batch: PublishBatch): { changed: number } {
    const staged = new Map<string, Map<string, StoredResource | null>>(); // null = removal
    const stage = (typeUrl: string, name: string, v: StoredResource | null) => {
      let m = staged.get(typeUrl);
      if (!m) {
        m = new Map();
        staged.set(typeUrl, m);
      }
      m.set(name, v);
    };
    for (const r of batch.remove ?? []) {
      this.typeOf(r.typeUrl);
      stage(r.typeUrl, r.name, null);
    }
    for (const u of batch.upsert ?? []) {
      const rt = this.typeOf(u.typeUrl);
      if (u.name === "")
        throw new XdsError("ERR_XDS_INVALID_RESOURCE", "resource name is empty", {
          typeUrl: u.typeUrl,
          name: u.name,
          field: "name",
        });
      if (!this.skipValidation) rt.validate(u.name, u.resource);
      let variants: Map<string, EncodedResource> | undefined;
      if (u.variants && u.variants.size > 0) {
        variants = new Map();
        for (const [key, msg] of u.variants) {
          if (!this.skipValidation) rt.validate(u.name, msg);
          variants.set(key, encodeResource(u.typeUrl, u.name, rt.schema, msg));
        }
      }
      stage(u.typeUrl, u.name, {
        base: encodeResource(u.typeUrl, u.name, rt.schema, u.resource),
        variants,
        updatedAt: 0,
      });
    }
    this.checkConsistency(staged);

    const at = this.now();
    const changes: ResourceChange[] = [];
    const changedKeys = new Set<string>();
    for (const typeUrl of PUSH_ORDER) {
      const s = staged.get(typeUrl);
      if (!s) continue;
      const current = this.byType.get(typeUrl) as Map<string, StoredResource>;
      for (const [name, next] of s) {
        const prev = current.get(name);
        if (next === null) {
          if (!prev) continue;
          current.delete(name);
          changes.push({ typeUrl, name, removed: true, force: false, at });
        } else {
          if (prev && sameContent(prev, next)) continue;
          next.updatedAt = at;
          current.set(name, next);
          changes.push({ typeUrl, name, removed: false, force: false, at });
        }
        changedKeys.add(`${typeUrl}\u0000${name}`);
      }
    }
    const changed = changes.length;
    if (changed > 0) this.gen++;
    // A changed Cluster makes Envoy re-warm it and wait for EDS, so its CLA must be sent again.
    for (const c of changes) {
      if (c.typeUrl !== TYPE_URLS.cluster || c.removed) continue;
      const stored = this.byType.get(TYPE_URLS.cluster)?.get(c.name);
      const refs = stored
        ? RESOURCE_TYPES.get(TYPE_URLS.cluster)?.references(c.name, stored.base.message)
        : [];
      for (const ref of refs ?? []) {
        if (changedKeys.has(`${ref.typeUrl}\u0000${ref.name}`)) continue;
        changes.push({ typeUrl: ref.typeUrl, name: ref.name, removed: false, force: true, at });
      }
    }
    if (changes.length > 0) this.notify(changes);
    return { changed };
  }

  /**
   * Sends existing resources again to every stream interested in them, even to clients that hold this
   * version (force). For Envoy's `endpoint_stale_after`, whose timer is re-armed by every accepted
   * assignment, changed or not. Names not held are ignored. Returns how many were marked.
   */
  resend(typeUrl: string, names: Iterable<string>): number {
    const held = this.byType.get(typeUrl);
    if (!held) return 0;
    const at = this.now();
    const changes: ResourceChange[] = [];
    for (const name of names)
      if (held.has(name)) changes.push({ typeUrl, name, removed: false, force: true, at });
    if (changes.length > 0) this.notify(changes);
    return changes.length;
  }

  /** Increments on every publish that changed something; streams use it to share response bytes. */
  get generation(): number {
    return this.gen;
  }

  /** The resource as a client with `variantKey` would get it. */
  get(
    typeUrl: string,
    name: string,
    variantKey?: string,
  ): { version: string; resource: Message } | undefined {
    const e = this.getEncoded(typeUrl, name, variantKey);
    return e ? { version: e.version, resource: e.message } : undefined;
  }

  /** Pre-encoded form; for the streams. */
  getEncoded(typeUrl: string, name: string, variantKey?: string): EncodedResource | undefined {
    const r = this.byType.get(typeUrl)?.get(name);
    if (!r) return undefined;
    if (variantKey !== undefined && r.variants) return r.variants.get(variantKey) ?? r.base;
    return r.base;
  }

  /** Names currently held for a type. */
  names(typeUrl: string): IterableIterator<string> {
    return (this.byType.get(typeUrl) ?? new Map<string, StoredResource>()).keys();
  }

  size(typeUrl: string): number {
    return this.byType.get(typeUrl)?.size ?? 0;
  }

  /** Every resource of a type, sorted by name, with its variants and when it last changed (for /config_dump). */
  entries(typeUrl: string): StoredEntry[] {
    const m = this.byType.get(typeUrl);
    if (!m) return [];
    return [...m.entries()]
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))
      .map(([name, r]) => ({ name, base: r.base, variants: r.variants, updatedAt: r.updatedAt }));
  }

  watch(onChange: (changes: ResourceChange[]) => void): StoreWatch {
    return new Watch(this, onChange);
  }

  /** @internal Keeps the name → watches index in step with a watch's interest. */
  reindex(w: Watch, typeUrl: string, next: Interest | undefined): void {
    const byName = this.watchersByName.get(typeUrl);
    const wild = this.wildcardWatchers.get(typeUrl);
    if (!byName || !wild)
      throw new XdsError("ERR_XDS_UNKNOWN_TYPE", `unknown type URL ${typeUrl}`, { typeUrl });
    const prev = w.interests.get(typeUrl);
    if (prev) {
      for (const n of prev.names) {
        if (next?.names.has(n)) continue;
        const set = byName.get(n);
        set?.delete(w);
        if (set?.size === 0) byName.delete(n);
      }
      if (prev.wildcard && !next?.wildcard) wild.delete(w);
    }
    if (next) {
      for (const n of next.names) {
        if (prev?.names.has(n)) continue;
        let set = byName.get(n);
        if (!set) {
          set = new Set();
          byName.set(n, set);
        }
        set.add(w);
      }
      if (next.wildcard) wild.add(w);
      w.interests.set(typeUrl, next);
    } else {
      w.interests.delete(typeUrl);
    }
  }

  private notify(changes: ResourceChange[]): void {
    const only = changes.length === 1 ? changes[0] : undefined;
    if (only) {
      // The common fan-out (one resource changed, thousands of watchers): one shared list, no grouping.
      // Watchers read the list during the call and keep nothing of it.
      const wild = this.wildcardWatchers.get(only.typeUrl);
      const named = this.watchersByName.get(only.typeUrl)?.get(only.name);
      if (wild) for (const w of wild) w.onChange(changes);
      if (named) for (const w of named) if (!wild?.has(w)) w.onChange(changes);
      return;
    }
    const perWatch = new Map<Watch, ResourceChange[]>();
    const add = (w: Watch, c: ResourceChange) => {
      const list = perWatch.get(w);
      if (list) list.push(c);
      else perWatch.set(w, [c]);
    };
    for (const c of changes) {
      const wild = this.wildcardWatchers.get(c.typeUrl);
      const named = this.watchersByName.get(c.typeUrl)?.get(c.name);
      if (wild) for (const w of wild) add(w, c);
      if (named) for (const w of named) if (!wild?.has(w)) add(w, c);
    }
    for (const [w, list] of perWatch) w.onChange(list);
  }

  private typeOf(typeUrl: string): ResourceType {
    const rt = isKnownTypeUrl(typeUrl) ? RESOURCE_TYPES.get(typeUrl) : undefined;
    if (!rt) throw new XdsError("ERR_XDS_UNKNOWN_TYPE", `unknown type URL ${typeUrl}`, { typeUrl });
    return rt;
  }

  /** Every reference from a resource present after the batch must resolve after the batch. */
  private checkConsistency(staged: Map<string, Map<string, StoredResource | null>>): void {
    const existsAfter = (typeUrl: string, name: string): boolean => {
      const s = staged.get(typeUrl);
      if (s?.has(name)) return s.get(name) !== null;
      return this.byType.get(typeUrl)?.has(name) ?? false;
    };
    const removesTargets = [TYPE_URLS.endpoint, TYPE_URLS.route].some((t) =>
      [...(staged.get(t)?.values() ?? [])].some((v) => v === null),
    );
    for (const typeUrl of [TYPE_URLS.cluster, TYPE_URLS.listener]) {
      const rt = this.typeOf(typeUrl);
      const s = staged.get(typeUrl);
      // Only upserted referrers can break a reference, unless the batch removes referable resources.
      const candidates: Array<[string, StoredResource]> = [];
      if (removesTargets) {
        for (const [name, r] of this.byType.get(typeUrl) ?? []) if (!s?.has(name)) candidates.push([name, r]);
      }
      for (const [name, r] of s ?? []) if (r) candidates.push([name, r]);
      for (const [name, r] of candidates) {
        const msgs = [r.base.message, ...(r.variants ? [...r.variants.values()].map((v) => v.message) : [])];
        for (const m of msgs) {
          for (const ref of rt.references(name, m)) {
            if (!existsAfter(ref.typeUrl, ref.name)) {
              throw new XdsError(
                "ERR_XDS_INCONSISTENT",
                `references ${ref.typeUrl.slice(ref.typeUrl.lastIndexOf(".") + 1)} "${ref.name}" which does not exist`,
                {
                  typeUrl,
                  name,
                  field:
                    typeUrl === TYPE_URLS.cluster
                      ? "eds_cluster_config.service_name"
                      : "rds.route_config_name",
                },
              );
            }
          }
        }
      }
    }
  }
}

function sameContent(a: StoredResource, b: StoredResource): boolean {
  if (a.base.version !== b.base.version) return false;
  const av = a.variants;
  const bv = b.variants;
  if ((av?.size ?? 0) !== (bv?.size ?? 0)) return false;
  for (const [k, v] of av ?? []) if (bv?.get(k)?.version !== v.version) return false;
  return true;
}
