/**
 * Drives the endpoints stage for a set of clusters: tracks every DNS name the clusters need (A/AAAA per
 * family policy, SRV plus each target's addresses, TXT for metadata), feeds endpoints to the health
 * checker, and on a DNS update, health change or config change rebuilds only the affected clusters after
 * a short debounce, publishing CDS/EDS(+zone variants)/LDS/RDS through a Publisher. Content that encodes
 * to the same bytes is not published again. Endpoints that leave DNS stay as DRAINING for the drain window.
 */
import { recordAnswer } from "../dns/answer-history.js";
import { backoffDelay } from "../dns/backoff.js";
import type { Answer, RecordType } from "../dns/types.js";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignmentSchema,
} from "../gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { type Clock, systemClock } from "../health/clock.js";
import type { ProbeTarget } from "../health/probe.js";
import type { EndpointHealth, HealthCheckSpec, HealthSink } from "../health/types.js";
import { versionAhead } from "../xds/encoded-resource.js";
import { PUSH_ORDER } from "../xds/type-urls.js";
import { buildAssignment, zoneKey } from "./assignment-builder.js";
import { CandidateMemo } from "./candidate-memo.js";
import {
  ClusterInputScreen,
  type ClusterNote,
  inputLimitsOf,
  trackableSrvTargets,
} from "./cluster-input-screen.js";
import { clusterResources, clusterResourcesKey } from "./cluster-resources.js";
import type { ClusterSpec, LocalitySpec, SourceSpec } from "./cluster-spec.js";
import type { EndpointCandidate, SourceResolution } from "./endpoint-candidates.js";
import { type EndpointSource, fqdn, lookupKey } from "./endpoint-source.js";
import { FlapGuard, guardAnswer, type HoldEvent, type HoldView } from "./flap-guard.js";
import {
  CLUSTER_TYPE,
  ENDPOINT_TYPE,
  LISTENER_TYPE,
  type PublishBatch,
  type Publisher,
  type ResourceUpsert,
  ROUTE_TYPE,
} from "./publisher.js";

export class EndpointPipelineError extends Error {
  constructor(
    readonly code: "ERR_ENDPOINTS_DUPLICATE_CLUSTER" | "ERR_ENDPOINTS_CLOSED",
    message: string,
  ) {
    super(message);
  }
}

/** The part of the health scheduler the pipeline uses. */
export interface HealthTracker {
  track(target: ProbeTarget, spec: HealthCheckSpec): void;
  untrack(key: string): void;
}

export interface EndpointPipelineOptions {
  source: EndpointSource;
  publisher: Publisher;
  /** Where health is read (and change events come from). */
  healthSink?: HealthSink;
  /** Who runs the checks; endpoints of clusters with a healthCheck are tracked here. */
  healthTracker?: HealthTracker;
  /** Coalescing window for rebuilds, ms (default 100). */
  debounceMs?: number;
  clock?: Clock;
  onError?: (err: unknown, context: string) => void;
  /** A grace or shrink hold started or ended for a cluster (for logs and metrics). */
  onHold?: (e: HoldEvent) => void;
}

export interface EndpointSnapshot {
  address: string;
  port: number;
  health: EndpointHealth;
  priority: number;
  locality: LocalitySpec;
  /** e.g. `dns:api.example.com.`, `srv:_grpc._tcp.example.com.→host.example.com.`, `static`. */
  source: string;
  weight: number;
  draining: boolean;
  /** Ms until the DNS record behind the endpoint expires (negative: served past TTL); absent for static. */
  ttlLeftMs?: number;
  additionalAddresses: string[];
}

export interface ClusterSnapshot {
  name: string;
  /** Every source has had a first answer (or a failure), so an assignment has been published. */
  ready: boolean;
  /**
   * An assignment built from a DNS answer for each source (static ones need none) has been published.
   * Unlike `ready`, a failed first lookup does not count: readiness waits on this.
   */
  resolved: boolean;
  endpoints: EndpointSnapshot[];
  lastBuildAt?: number;
  errors: string[];
  /** Empty or shrunken answers this cluster is riding out, serving the last set instead. */
  holds: HoldView[];
  /** What the input screen held back at the last build (rebinding guard, caps), for `/clusters` and metrics. */
  notes: ClusterNote[];
}

interface ClusterState {
  spec: ClusterSpec;
  /** Lookup keys this cluster depends on (own names plus SRV targets). */
  lookups: Set<string>;
  current: EndpointCandidate[];
  /** The candidates of each source, kept while its answers stay the same. */
  extracted: CandidateMemo;
  draining: Map<string, { c: EndpointCandidate; until: number }>;
  lastCla?: ClusterLoadAssignment;
  claBytes?: string;
  resourceBytes?: string;
  lastBuildAt?: number;
  healthKeys: Set<string>;
  published: boolean;
  /** See ClusterSnapshot.resolved. */
  resolved: boolean;
  listenerPublished: boolean;
  /** What the batch being published carries; becomes claBytes/resourceBytes once publish succeeds. */
  pending?: { claBytes: string; resourceBytes: string; answered: boolean };
  /** Rebinding guard and last-good bookkeeping of this cluster (cluster-input-screen.ts). */
  screen: ClusterInputScreen;
}

interface LookupState {
  name: string;
  type: RecordType;
  answer?: Answer;
  error?: string;
  settled: boolean;
  clusters: Set<string>;
}

const families = (spec: ClusterSpec): RecordType[] =>
  spec.ipFamily === "V4_ONLY" ? ["A"] : spec.ipFamily === "V6_ONLY" ? ["AAAA"] : ["A", "AAAA"];

/** One cluster's changes; removed clusters have no state. */
interface PublishUnit {
  name: string;
  st?: ClusterState;
  upsert: ResourceUpsert[];
  remove: Array<{ typeUrl: string; name: string }>;
}

const typeRank = (t: string): number => (PUSH_ORDER as readonly string[]).indexOf(t);
/** Longest wait between retries of a publish the store keeps refusing. */
const MAX_RETRY_MS = 5000;

const HEALTH_NAMES: readonly EndpointHealth[] = ["UNKNOWN", "HEALTHY", "UNHEALTHY", "DRAINING"];

/**
 * Content key of an assignment, for "unchanged means no publish": the store's own version of it. The
 * encoding made for it is the one the store takes when this assignment is published (encoded once).
 */
const claKey = (cla: ClusterLoadAssignment): string =>
  versionAhead(ENDPOINT_TYPE, ClusterLoadAssignmentSchema, cla);

export class EndpointPipeline {
  private readonly clusters = new Map<string, ClusterState>();
  private readonly lookups = new Map<string, LookupState>();
  /** endpoint key → clusters listing it with a health check, so a health change rebuilds only those. */
  private readonly healthIndex = new Map<string, Set<string>>();
  private readonly dirty = new Set<string>();
  private readonly removed = new Map<string, ClusterSpec>();
  private readonly clock: Clock;
  private readonly debounceMs: number;
  private timer: unknown;
  private drainTimer: unknown;
  private drainTimerAt = Number.POSITIVE_INFINITY;
  private flushing: Promise<void> | undefined;
  private closed = false;
  private publishFailures = 0;
  private readonly unsubscribe: Array<() => void> = [];
  private readonly flap: FlapGuard;

  constructor(private readonly options: EndpointPipelineOptions) {
    this.clock = options.clock ?? systemClock;
    this.flap = new FlapGuard({
      clock: this.clock,
      onWake: (name) => this.onHoldOver(name),
      ...(options.onHold ? { onEvent: options.onHold } : {}),
    });
    this.debounceMs = Math.max(0, options.debounceMs ?? 100);
    this.unsubscribe.push(options.source.onUpdate((name, type, answer) => this.onAnswer(name, type, answer)));
    if (options.healthSink) this.unsubscribe.push(options.healthSink.onChange((key) => this.onHealth(key)));
  }

  /** Replaces the set of clusters; only added, removed or changed clusters are rebuilt. */
  setClusters(specs: readonly ClusterSpec[]): void {
    if (this.closed) throw new EndpointPipelineError("ERR_ENDPOINTS_CLOSED", "pipeline is closed");
    const names = new Set<string>();
    for (const s of specs) {
      if (names.has(s.name))
        throw new EndpointPipelineError("ERR_ENDPOINTS_DUPLICATE_CLUSTER", `duplicate cluster ${s.name}`);
      names.add(s.name);
    }
    for (const [name, st] of this.clusters) {
      if (names.has(name)) continue;
      this.clusters.delete(name);
      this.flap.forget(name);
      this.releaseLookups(name, st.lookups, new Set());
      this.setHealthKeys(name, st, new Set());
      this.dirty.delete(name);
      if (st.published) this.removed.set(name, st.spec);
      this.schedule();
    }
    for (const spec of specs) {
      const st = this.clusters.get(spec.name);
      if (st && JSON.stringify(st.spec) === JSON.stringify(spec)) continue;
      this.removed.delete(spec.name);
      const next: ClusterState = st ?? {
        spec,
        lookups: new Set(),
        current: [],
        extracted: new CandidateMemo(),
        draining: new Map(),
        healthKeys: new Set(),
        published: false,
        resolved: false,
        listenerPublished: false,
        screen: new ClusterInputScreen(),
      };
      next.spec = spec;
      this.clusters.set(spec.name, next);
      this.refreshLookups(spec.name, next);
      this.markDirty(spec.name);
    }
  }

  /** Publishes pending changes now instead of waiting for the debounce (tests, shutdown). */
  async flush(): Promise<void> {
    if (this.timer !== undefined) {
      this.clock.clearTimeout(this.timer);
      this.timer = undefined;
    }
    // One flush at a time: later changes wait for the running one, then go in the next.
    while (this.flushing) await this.flushing;
    this.flushing = this.doFlush().finally(() => {
      this.flushing = undefined;
    });
    await this.flushing;
  }

  /**
   * Clusters not yet resolved (see ClusterSnapshot.resolved), for readiness. A probe asks often, so this
   * reads one flag per cluster instead of building `snapshot()`'s row per endpoint.
   */
  unresolved(): string[] {
    const out: string[] = [];
    for (const [name, st] of this.clusters) if (!st.resolved) out.push(name);
    return out.sort();
  }

  snapshot(): ClusterSnapshot[] {
    const now = this.clock.now();
    const out: ClusterSnapshot[] = [];
    for (const [name, st] of this.clusters) {
      const placed = new Map<
        string,
        { priority: number; health: EndpointHealth; weight: number; extra: string[] }
      >();
      for (const le of st.lastCla?.endpoints ?? []) {
        for (const lb of le.lbEndpoints) {
          if (lb.hostIdentifier.case !== "endpoint") continue;
          const [primary, ...rest] = [
            lb.hostIdentifier.value.address,
            ...lb.hostIdentifier.value.additionalAddresses.map((x) => x.address),
          ]
            .map((ad) =>
              ad?.address.case === "socketAddress"
                ? `${ad.address.value.address}|${ad.address.value.portSpecifier.value}`
                : "",
            )
            .filter((k) => k !== "");
          if (!primary) continue;
          const health = HEALTH_NAMES[lb.healthStatus] ?? "UNKNOWN";
          const info = { priority: le.priority, health, weight: lb.loadBalancingWeight ?? 1, extra: rest };
          // An additional address is shown on its host's row only, as Envoy shows one host: a row of its
          // own would list the same IPv4 twice (once as a host, once as another host's second address).
          placed.set(primary, info);
        }
      }
      const endpoints: EndpointSnapshot[] = [];
      const listed = [
        ...st.current.map((c) => ({ c, draining: false })),
        ...[...st.draining.values()].map((d) => ({ c: d.c, draining: true })),
      ];
      const seen = new Set<string>();
      for (const { c, draining } of listed) {
        const p = placed.get(c.key);
        if (!p || seen.has(c.key)) continue;
        seen.add(c.key);
        const source = st.spec.sources[c.sourceIndex];
        const e: EndpointSnapshot = {
          address: c.address,
          port: c.port,
          health: p.health,
          priority: p.priority,
          locality: source?.locality ?? { region: "", zone: "", subZone: "" },
          source: describeSource(source, c),
          weight: p.weight,
          draining,
          additionalAddresses: p.extra.map((k) => k.replace("|", ":")),
        };
        const expiresAt = this.currentExpiry(source, c) ?? c.expiresAt;
        if (expiresAt !== undefined) e.ttlLeftMs = Math.max(0, expiresAt - now);
        endpoints.push(e);
      }
      endpoints.sort(
        (a, b) =>
          a.priority - b.priority ||
          (a.address < b.address ? -1 : a.address > b.address ? 1 : a.port - b.port),
      );
      const errors: string[] = [];
      for (const k of st.lookups) {
        const l = this.lookups.get(k);
        if (l?.error) errors.push(`${k}: ${l.error}`);
      }
      const snap: ClusterSnapshot = {
        name,
        ready: st.published,
        resolved: st.resolved,
        endpoints,
        errors,
        holds: this.flap.holdsOf(name),
        notes: [...st.screen.notes],
      };
      if (st.lastBuildAt !== undefined) snap.lastBuildAt = st.lastBuildAt;
      out.push(snap);
    }
    return out.sort((a, b) => (a.name < b.name ? -1 : 1));
  }

  /**
   * The expiry of the answer the source holds now for the lookup behind a candidate: answers refreshed
   * with unchanged content never reach the pipeline, so the candidate's own expiry goes stale.
   */
  private currentExpiry(source: SourceSpec | undefined, c: EndpointCandidate): number | undefined {
    const peek = this.options.source.expiresAt;
    if (!peek || !source) return undefined;
    if (source.kind === "dns")
      return peek.call(this.options.source, source.name, c.family === 4 ? "A" : "AAAA");
    if (source.kind === "srv") return peek.call(this.options.source, source.name, "SRV");
    return undefined;
  }

  close(): void {
    this.closed = true;
    for (const u of this.unsubscribe) u();
    if (this.timer !== undefined) this.clock.clearTimeout(this.timer);
    if (this.drainTimer !== undefined) this.clock.clearTimeout(this.drainTimer);
    this.flap.close();
    for (const [name, st] of this.clusters) {
      this.releaseLookups(name, st.lookups, new Set());
      this.setHealthKeys(name, st, new Set());
    }
    this.clusters.clear();
  }

  // ---- DNS side ----

  /** Recomputes which lookups a cluster needs (own names + current SRV targets) and (un)tracks them. */
  private refreshLookups(name: string, st: ClusterState): void {
    const want = new Set<string>();
    const add = (n: string, type: RecordType): void => {
      const k = lookupKey(n, type);
      want.add(k);
      let l = this.lookups.get(k);
      if (!l) {
        l = { name: fqdn(n), type, settled: false, clusters: new Set() };
        this.lookups.set(k, l);
        this.startLookup(k, l);
      }
      l.clusters.add(name);
    };
    for (const s of st.spec.sources) {
      if (s.kind === "static") continue;
      if (s.kind === "dns") for (const t of families(st.spec)) add(s.name, t);
      if (s.kind === "srv") {
        add(s.name, "SRV");
        // Targets of a set held through a grace or a shrink stay tracked (and health-checked).
        const held = this.lookups.get(lookupKey(s.name, "SRV"))?.answer;
        const srv = held && guardAnswer(held, st.spec.flapGuard, this.clock.now()).answer;
        // Only host names, and nothing new from an answer over the SRV target cap: the cluster keeps
        // tracking (and serving) the targets it had (cluster-input-screen.ts).
        const targets = trackableSrvTargets(srv, inputLimitsOf(st.spec));
        if (targets === "over-cap") {
          for (const k of st.lookups) if (k.startsWith("A ") || k.startsWith("AAAA ")) want.add(k);
        } else {
          for (const target of targets) for (const t of families(st.spec)) add(target, t);
        }
      }
      if (s.txtMetadata) add(s.name, "TXT");
    }
    this.releaseLookups(name, st.lookups, want);
    st.lookups = want;
  }

  private startLookup(key: string, l: LookupState): void {
    this.options.source.track(l.name, l.type);
    this.options.source.resolve(l.name, l.type).then(
      (answer) => this.onAnswer(l.name, l.type, answer),
      (err: unknown) => {
        const cur = this.lookups.get(key);
        if (cur !== l) return;
        // Keep whatever we had: a failure never empties a set. It only unblocks the first publish.
        l.error = `${(err as { code?: string }).code ?? "error"}: ${(err as Error)?.message ?? String(err)}`;
        if (!l.settled) {
          l.settled = true;
          for (const c of l.clusters) this.markDirty(c);
        }
      },
    );
  }

  private releaseLookups(name: string, had: Set<string>, keep: Set<string>): void {
    for (const k of had) {
      if (keep.has(k)) continue;
      const l = this.lookups.get(k);
      if (!l) continue;
      l.clusters.delete(name);
      if (l.clusters.size === 0) {
        this.lookups.delete(k);
        this.options.source.untrack(l.name, l.type);
      }
    }
  }

  private onAnswer(name: string, type: RecordType, answer: Answer): void {
    if (this.closed) return;
    const l = this.lookups.get(lookupKey(name, type));
    if (!l) return;
    // The tracked update and our own first resolve race; never go back to an older answer.
    if (l.answer && answer.resolvedAt < l.answer.resolvedAt) return;
    if (!answer.history) {
      // A source that records no history (anything but the caching resolver): keep it here.
      const history = recordAnswer(l.answer, answer);
      if (history) answer = { ...answer, history };
    }
    l.answer = answer;
    l.settled = true;
    delete l.error;
    for (const c of [...l.clusters]) {
      const st = this.clusters.get(c);
      if (!st) continue;
      if (type === "SRV") this.refreshLookups(c, st);
      this.markDirty(c);
    }
  }

  /** A grace or a shrink hold of the cluster ran out: its targets and endpoints are decided again. */
  private onHoldOver(name: string): void {
    const st = this.clusters.get(name);
    if (!st || this.closed) return;
    this.refreshLookups(name, st);
    this.markDirty(name);
  }

  private onHealth(key: string): void {
    for (const c of this.healthIndex.get(key) ?? []) this.markDirty(c);
  }

  // ---- building ----

  private markDirty(name: string): void {
    this.dirty.add(name);
    this.schedule();
  }

  private schedule(delayMs = this.debounceMs): void {
    if (this.closed || this.timer !== undefined) return;
    // Fixed window from the first change (not reset by later ones) bounds the added latency.
    this.timer = this.clock.setTimeout(() => {
      this.timer = undefined;
      void this.flush().catch((e: unknown) => this.options.onError?.(e, "flush"));
    }, delayMs);
  }

  /** The answers a rebuild of `spec` sees, by lookup key: as held, or after each cluster's flap guard. */
  private resolutionsOf(
    spec: ClusterSpec,
    answers: ReadonlyMap<string, Answer>,
  ): Array<SourceResolution | undefined> {
    const get = (n: string, t: RecordType): Answer | undefined => answers.get(lookupKey(n, t));
    return spec.sources.map((s): SourceResolution | undefined => {
      const r: SourceResolution = {};
      if (s.kind === "static") return r;
      if (s.txtMetadata) {
        const txt = get(s.name, "TXT");
        if (txt) r.txt = txt;
      }
      if (s.kind === "dns") {
        const a = get(s.name, "A");
        const aaaa = get(s.name, "AAAA");
        if (a) r.a = a;
        if (aaaa) r.aaaa = aaaa;
        return r;
      }
      const srv = get(s.name, "SRV");
      if (!srv) return r;
      // Targets' own tracked answers win over the copy inside the SRV answer: they refresh on their TTL.
      const targets = new Map<string, { a: Answer["records"]; aaaa: Answer["records"] }>();
      for (const rec of srv.records) {
        if (rec.type !== "SRV") continue;
        const t = fqdn(rec.target);
        if (t === "." || targets.has(t)) continue;
        const inline = srv.targets?.get(t);
        targets.set(t, {
          a: get(t, "A")?.records ?? inline?.a ?? [],
          aaaa: get(t, "AAAA")?.records ?? inline?.aaaa ?? [],
        });
      }
      r.srv = { ...srv, targets };
      return r;
    });
  }

  /** Every DNS/SRV source has an answer (not only a failure) for at least one of its own lookups. */
  private isAnswered(st: ClusterState): boolean {
    for (const s of st.spec.sources) {
      if (s.kind === "static") continue;
      const keys =
        s.kind === "dns" ? families(st.spec).map((t) => lookupKey(s.name, t)) : [lookupKey(s.name, "SRV")];
      if (!keys.some((k) => this.lookups.get(k)?.answer !== undefined)) return false;
    }
    return true;
  }

  private isReady(st: ClusterState): boolean {
    for (const s of st.spec.sources) {
      if (s.kind === "static") continue;
      const keys =
        s.kind === "dns" ? families(st.spec).map((t) => lookupKey(s.name, t)) : [lookupKey(s.name, "SRV")];
      for (const k of keys) if (!this.lookups.get(k)?.settled) return false;
    }
    return true;
  }

  private setHealthKeys(name: string, st: ClusterState, keys: Set<string>): void {
    const tracker = this.options.healthTracker;
    for (const k of st.healthKeys) {
      if (keys.has(k)) continue;
      const set = this.healthIndex.get(k);
      set?.delete(name);
      if (set && set.size === 0) {
        this.healthIndex.delete(k);
        tracker?.untrack(k);
      }
    }
    for (const k of keys) {
      let set = this.healthIndex.get(k);
      if (!set) {
        set = new Set();
        this.healthIndex.set(k, set);
      }
      set.add(name);
    }
    st.healthKeys = keys;
  }

  /** Rebuilds one cluster and returns what must be published for it (nothing when unchanged). */
  private rebuild(name: string, st: ClusterState): PublishUnit {
    const unit: PublishUnit = { name, st, upsert: [], remove: [] };
    const now = this.clock.now();
    const spec = st.spec;
    const held = new Map<string, Answer>();
    for (const k of st.lookups) {
      const answer = this.lookups.get(k)?.answer;
      if (answer) held.set(k, answer);
    }
    const answers = this.flap.decide(name, spec.flapGuard, held, now);
    // Screened before anything else sees them: what the guard denies is neither published nor probed.
    // The memo only spares re-extracting unchanged sources; the screen judges every build afresh.
    const resolutions = this.resolutionsOf(spec, answers);
    const candidates = st.screen.screen(spec, resolutions, st.extracted.extract(spec, resolutions));
    // Made only when needed: a 10,000-endpoint cluster without drain or health checks never needs it.
    let keys: Set<string> | undefined;
    const currentKeys = (): Set<string> => {
      keys ??= new Set(candidates.map((c) => c.key));
      return keys;
    };
    // Endpoints that left DNS start draining; ones that came back stop; expired ones go.
    if (st.published && spec.drainMs > 0 && !sameCandidates(st.current, candidates)) {
      for (const c of st.current)
        if (!currentKeys().has(c.key) && !st.draining.has(c.key))
          st.draining.set(c.key, { c, until: now + spec.drainMs });
    }
    for (const [k, d] of st.draining) if (currentKeys().has(k) || d.until <= now) st.draining.delete(k);
    // What the guard denies now (a reload tightened it) does not linger as DRAINING either.
    st.screen.pruneDenied(spec, st.draining);
    st.current = candidates;
    this.armDrainTimer(now);

    if (spec.healthCheck && this.options.healthTracker) {
      for (const c of candidates)
        this.options.healthTracker.track(
          { address: c.address, port: c.port, ...(c.host ? { host: c.host } : {}) },
          spec.healthCheck,
        );
    }
    this.setHealthKeys(name, st, spec.healthCheck ? currentKeys() : new Set());

    const sink = this.options.healthSink;
    const health = sink ? (k: string) => sink.get(k) : undefined;
    const draining = [...st.draining.values()].map((d) => d.c);
    const input = { spec, candidates, draining, ...(health ? { health } : {}) };
    const base = buildAssignment(input);
    const variants = new Map<string, ClusterLoadAssignment>();
    if (spec.zoneAware) {
      const zones = new Set(spec.sources.map((s) => s.locality.zone));
      // One zone only: every variant would equal the base assignment.
      if (zones.size > 1)
        for (const zone of zones)
          variants.set(
            zoneKey({ region: "", zone }),
            buildAssignment({ ...input, clientZone: { region: "", zone } }),
          );
    }
    st.lastCla = base;
    st.lastBuildAt = now;

    const claBytes = [claKey(base), ...[...variants].map(([z, v]) => `${z}=${claKey(v)}`)].join(",");
    const resourceBytes = clusterResourcesKey(spec);
    const resourcesChanged = resourceBytes !== st.resourceBytes;
    if (resourcesChanged) {
      unit.upsert.push(...clusterResources(spec));
      if (st.listenerPublished && !spec.grpcListener) {
        unit.remove.push({ typeUrl: LISTENER_TYPE, name }, { typeUrl: ROUTE_TYPE, name });
      }
    }
    // A changed Cluster makes Envoy re-warm and wait for EDS, so its CLA goes out again too.
    if (claBytes !== st.claBytes || resourcesChanged) {
      unit.upsert.push({
        typeUrl: ENDPOINT_TYPE,
        name,
        resource: base,
        ...(variants.size > 0 ? { variants } : {}),
      });
    }
    st.pending = { claBytes, resourceBytes, answered: this.isAnswered(st) };
    return unit;
  }

  /**
   * Arms the drain timer for the earliest drain ending after `now`. `now` is the reading the caller
   * pruned or marked expired entries with, never a later one: an entry ending between two readings
   * would otherwise be neither marked nor armed for, and stay DRAINING until some unrelated rebuild.
   */
  private armDrainTimer(now: number): void {
    let next = Number.POSITIVE_INFINITY;
    // Entries ending at or before `now` are already marked dirty; the rebuild drops them.
    for (const st of this.clusters.values())
      for (const d of st.draining.values()) if (d.until > now) next = Math.min(next, d.until);
    if (next === Number.POSITIVE_INFINITY || next >= this.drainTimerAt) return;
    if (this.drainTimer !== undefined) this.clock.clearTimeout(this.drainTimer);
    this.drainTimerAt = next;
    this.drainTimer = this.clock.setTimeout(
      () => {
        this.drainTimer = undefined;
        this.drainTimerAt = Number.POSITIVE_INFINITY;
        const now = this.clock.now();
        for (const [name, st] of this.clusters)
          for (const d of st.draining.values()) if (d.until <= now) this.markDirty(name);
        this.armDrainTimer(now);
      },
      Math.max(0, next - this.clock.now()),
    );
  }

  private async doFlush(): Promise<void> {
    if (this.closed) return;
    const names = [...this.dirty];
    this.dirty.clear();
    const units: PublishUnit[] = [];
    for (const name of names) {
      const st = this.clusters.get(name);
      if (!st || !this.isReady(st)) continue;
      try {
        const unit = this.rebuild(name, st);
        if (unit.upsert.length > 0 || unit.remove.length > 0) units.push(unit);
        else this.markPublished(st);
      } catch (e) {
        this.options.onError?.(e, `build ${name}`);
      }
    }
    for (const [name, spec] of this.removed) {
      // Listener and route first so no client is left routing to a cluster that is already gone.
      const remove = spec.grpcListener
        ? [
            { typeUrl: LISTENER_TYPE, name },
            { typeUrl: ROUTE_TYPE, name },
          ]
        : [];
      remove.push({ typeUrl: ENDPOINT_TYPE, name }, { typeUrl: CLUSTER_TYPE, name });
      units.push({ name, upsert: [], remove });
    }
    if (units.length === 0) return;
    // One batch for everything; if the store refuses it, cluster by cluster so one bad cluster cannot
    // hold back the others.
    let failed = await this.publishUnits(units);
    if (failed.length > 0 && units.length > 1) {
      failed = [];
      for (const u of units) failed.push(...(await this.publishUnits([u])));
    }
    if (failed.length === 0) {
      this.publishFailures = 0;
      return;
    }
    this.publishFailures++;
    for (const u of failed) if (u.st && this.clusters.get(u.name) === u.st) this.dirty.add(u.name);
    // Not recorded as published: retry with whatever is current then, backing off while it keeps failing.
    this.schedule(
      backoffDelay(this.publishFailures, { baseMs: Math.max(this.debounceMs, 50), maxMs: MAX_RETRY_MS }),
    );
  }

  /** Publishes units as one batch in xDS order (CDS, EDS, LDS, RDS, then removals); returns them if refused. */
  private async publishUnits(units: PublishUnit[]): Promise<PublishUnit[]> {
    const upsert = units.flatMap((u) => u.upsert).sort((a, b) => typeRank(a.typeUrl) - typeRank(b.typeUrl));
    const remove = units.flatMap((u) => u.remove);
    const batch: PublishBatch = {};
    if (upsert.length > 0) batch.upsert = upsert;
    if (remove.length > 0) batch.remove = remove;
    try {
      await this.options.publisher.publish(batch);
    } catch (e) {
      this.options.onError?.(e, `publish ${units.map((u) => u.name).join(",")}`);
      return units;
    }
    for (const u of units) {
      if (u.st) this.markPublished(u.st);
      else this.removed.delete(u.name);
    }
    return [];
  }

  private markPublished(st: ClusterState): void {
    if (st.pending) {
      st.claBytes = st.pending.claBytes;
      st.resourceBytes = st.pending.resourceBytes;
      st.listenerPublished = st.spec.grpcListener;
      if (st.pending.answered) st.resolved = true;
      delete st.pending;
    }
    st.published = true;
  }
}

/** Same candidate objects in the same order (unchanged answers keep their candidates). */
function sameCandidates(a: readonly EndpointCandidate[], b: readonly EndpointCandidate[]): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false;
  return true;
}

function describeSource(source: SourceSpec | undefined, c: EndpointCandidate): string {
  if (!source) return "?";
  if (source.kind === "static") return "static";
  if (source.kind === "dns") return `dns:${fqdn(source.name)}`;
  return `srv:${fqdn(source.name)}→${c.host}`;
}
