/**
 * Builds one ClusterLoadAssignment from a cluster's spec, its candidate endpoints, health and drain
 * state, and optionally the zone of the client it is for. Pure and deterministic (same input → same
 * bytes), so the pipeline can hash the result to skip pushes, and it only ever builds assignments that
 * gRPC (A27) and Envoy accept: IP literals, unique addresses cluster-wide, a weight on every locality,
 * contiguous priorities 0..≤128, one entry per (locality, priority), weights ≥ 1 whose sums fit uint32.
 */
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import {
  type Address,
  type SocketAddress,
  SocketAddress_Protocol,
} from "../gen/envoy/config/core/v3/address_pb.js";
import { HealthStatus } from "../gen/envoy/config/core/v3/health_check_pb.js";
import type {
  Endpoint,
  LbEndpoint,
  LocalityLbEndpoints,
} from "../gen/envoy/config/endpoint/v3/endpoint_components_pb.js";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignmentSchema,
} from "../gen/envoy/config/endpoint/v3/endpoint_pb.js";
import type { EndpointHealth } from "../health/types.js";
import { freezeLbEndpoint } from "../xds/frozen-lb-endpoint.js";
import type { ClusterSpec, LocalitySpec } from "./cluster-spec.js";
import { type EndpointCandidate, extractCandidates, type SourceResolution } from "./endpoint-candidates.js";

export const UINT32_MAX = 0xffff_ffff;
/** Highest priority Envoy's proto validation allows (`priority` lte 128). */
export const MAX_PRIORITY = 128;
/** Where endpoint metadata goes so Envoy's subset load balancer sees it. */
export const LB_METADATA_KEY = "envoy.lb";

export interface ClientZone {
  /** Empty region matches any region. */
  region: string;
  zone: string;
}

export interface BuildInput {
  spec: ClusterSpec;
  /** Endpoints DNS (or config) currently lists. */
  candidates: readonly EndpointCandidate[];
  /** Endpoints that left DNS but are still inside the drain window; listed as DRAINING. */
  draining?: readonly EndpointCandidate[];
  /** Health by endpoint key; only consulted when the cluster has a health check. */
  health?: (key: string) => EndpointHealth | undefined;
  /** When set and the cluster is zoneAware, localities in this zone go first. */
  clientZone?: ClientZone;
}

/** One LbEndpoint-to-be: a primary address and, with happy eyeballs, the other family's address. */
interface Unit {
  primary: EndpointCandidate;
  additional: EndpointCandidate | undefined;
  health: EndpointHealth;
  tier: number;
}

const toStatus: Record<EndpointHealth, HealthStatus> = {
  UNKNOWN: HealthStatus.UNKNOWN,
  HEALTHY: HealthStatus.HEALTHY,
  UNHEALTHY: HealthStatus.UNHEALTHY,
  DRAINING: HealthStatus.DRAINING,
};

export const localityKey = (l: LocalitySpec): string => `${l.region}/${l.zone}/${l.subZone}`;

/** Variant key of a zone-aware assignment: the xDS server picks variants by the client Node's zone alone. */
export const zoneKey = (z: ClientZone): string => z.zone;

function groupOf<K, V>(map: Map<K, V>, key: K, init: () => V): V {
  let v = map.get(key);
  if (v === undefined) {
    v = init();
    map.set(key, v);
  }
  return v;
}

const compareStr = (a: string, b: string): number => (a < b ? -1 : a > b ? 1 : 0);

function matchesSelector(
  c: EndpointCandidate,
  selector: Readonly<Record<string, string>> | undefined,
): boolean {
  if (!selector) return true;
  for (const [k, v] of Object.entries(selector)) if (c.metadata[k] !== v) return false;
  return true;
}

/** Happy eyeballs: a dual-stack host is healthy when either address is; unhealthy only when both are. */
function combineHealth(a: EndpointHealth, b: EndpointHealth): EndpointHealth {
  if (a === b) return a;
  if (a === "HEALTHY" || b === "HEALTHY") return "HEALTHY";
  if (a === "DRAINING" || b === "DRAINING") return "DRAINING";
  if (a === "UNKNOWN" || b === "UNKNOWN") return "UNKNOWN";
  return "UNHEALTHY";
}

/**
 * Priority tiers, most significant first: client zone (in-zone before spill-over), SRV priority
 * (operator-declared backups), then IP family (the same hosts over the other family are the last resort).
 */
function familyTier(spec: ClusterSpec, family: 4 | 6): number {
  if (spec.ipFamily === "V4_PREFERRED") return family === 4 ? 0 : 1;
  if (spec.ipFamily === "V6_PREFERRED") return family === 6 ? 0 : 1;
  return 0;
}

function preferredFamily(spec: ClusterSpec): 4 | 6 {
  return spec.ipFamily === "V6_PREFERRED" || spec.ipFamily === "V6_ONLY" ? 6 : 4;
}

const dedupOrder = (x: EndpointCandidate, y: EndpointCandidate): number =>
  x.sourceIndex - y.sourceIndex || x.srvPriority - y.srvPriority || y.weight - x.weight;

/**
 * Address, then port (the order of each locality's endpoints in the assignment), then dedup order, so the
 * candidate that wins a key comes first among its equals. `address|port` keys are equal exactly when
 * both parts are, so equal keys sit next to each other.
 */
const unitOrder = (x: EndpointCandidate, y: EndpointCandidate): number =>
  x.address < y.address ? -1 : x.address > y.address ? 1 : x.port - y.port || dedupOrder(x, y);

/**
 * One unit per endpoint key, each with its health, in address-then-port order: for every key the
 * current candidate first in dedup order (source, SRV priority, heavier weight) wins, or, with none
 * current, the draining one. Sorting instead of a set of keys: each source's candidates come in address
 * order (endpoint-candidates.ts), so the sort merges a few runs, and its order is the one the builder
 * lists endpoints in anyway; a set of 10,000 keys, filled on every rebuild, cost more than both.
 */
function dedup(
  current: readonly EndpointCandidate[],
  draining: readonly EndpointCandidate[],
  health: ((key: string) => EndpointHealth | undefined) | undefined,
): Unit[] {
  const cur = [...current].sort(unitOrder);
  const dra = draining.length > 0 ? [...draining].sort(unitOrder) : draining;
  const out: Unit[] = [];
  let last: EndpointCandidate | undefined;
  let i = 0;
  let j = 0;
  while (i < cur.length || j < dra.length) {
    const c = cur[i];
    const d = dra[j];
    // On equal keys the current one goes first, so it is the one kept.
    if (
      c !== undefined &&
      (d === undefined || unitOrder(c, d) <= 0 || (c.address === d.address && c.port === d.port))
    ) {
      i++;
      if (last !== undefined && last.address === c.address && last.port === c.port) continue;
      last = c;
      const h = health === undefined ? "UNKNOWN" : (health(c.key) ?? "UNKNOWN");
      out.push({ primary: c, additional: undefined, health: h, tier: 0 });
    } else if (d !== undefined) {
      j++;
      if (last !== undefined && last.address === d.address && last.port === d.port) continue;
      last = d;
      out.push({ primary: d, additional: undefined, health: "DRAINING", tier: 0 });
    }
  }
  return out;
}

/** With happy eyeballs, a host's two families' units become one unit with an additional address. */
function pairUnits(spec: ClusterSpec, single: Unit[]): Unit[] {
  const pairing =
    spec.happyEyeballs &&
    (spec.ipFamily === "V4_PREFERRED" || spec.ipFamily === "V6_PREFERRED" || spec.ipFamily === "ALL");
  if (!pairing) return single;
  const units: Unit[] = [];
  // Same host name, port, source and SRV priority (and same drain state) = one dual-stack host.
  const groups = new Map<string, Unit[]>();
  for (const e of single) {
    if (e.primary.host === "") {
      units.push(e);
      continue;
    }
    const g = `${e.primary.sourceIndex}|${e.primary.host}|${e.primary.port}|${e.primary.srvPriority}|${e.health === "DRAINING"}`;
    groupOf(groups, g, () => []).push(e);
  }
  const pref = preferredFamily(spec);
  const byAddr = (x: Unit, y: Unit): number => compareStr(x.primary.address, y.primary.address);
  for (const list of groups.values()) {
    const first = list.filter((e) => e.primary.family === pref).sort(byAddr);
    const second = list.filter((e) => e.primary.family !== pref).sort(byAddr);
    const n = Math.max(first.length, second.length);
    for (let i = 0; i < n; i++) {
      const p = first[i];
      const s = second[i];
      if (p && s) {
        units.push({
          primary: p.primary,
          additional: s.primary,
          health: combineHealth(p.health, s.health),
          tier: 0,
        });
      } else if (p) units.push(p);
      else if (s) units.push(s);
    }
  }
  return units;
}

/** Caps weights so their sum fits uint32 while keeping each ≥ 1 and roughly proportional. */
function fitUint32(weights: number[]): number[] {
  const capped = weights.map((w) => Math.min(UINT32_MAX, Math.max(1, Math.floor(w))));
  const sum = capped.reduce((a, b) => a + b, 0);
  if (sum <= UINT32_MAX) return capped;
  // Reserve 1 per entry, scale the rest; floor keeps the sum at or below the limit.
  const room = UINT32_MAX - capped.length;
  return capped.map((w) => 1 + Math.floor(((w - 1) * room) / (sum - capped.length)));
}

/** The endpoints' weights as fitUint32 gives them, or undefined when they already fit (the usual case). */
function fittedWeights(units: readonly Unit[]): number[] | undefined {
  let sum = 0;
  for (const u of units) {
    const w = u.primary.weight;
    if (!Number.isInteger(w) || w < 1 || w > UINT32_MAX) {
      sum = Number.POSITIVE_INFINITY;
      break;
    }
    sum += w;
  }
  return sum <= UINT32_MAX ? undefined : fitUint32(units.map((u) => u.primary.weight));
}

// Messages are written as typed literals rather than through create(): the compiler checks that every
// field is present (proto3 messages are plain objects), and it is several times cheaper than create()
// walking the schema for each of thousands of endpoints.
function addressOf(c: EndpointCandidate): Address {
  const socket: SocketAddress = {
    $typeName: "envoy.config.core.v3.SocketAddress",
    protocol: SocketAddress_Protocol.TCP,
    address: c.address,
    portSpecifier: { case: "portValue", value: c.port },
    resolverName: "",
    ipv4Compat: false,
  };
  return { $typeName: "envoy.config.core.v3.Address", address: { case: "socketAddress", value: socket } };
}

/**
 * The last LbEndpoint built for a primary candidate, with what else went into it. Candidates of
 * unchanged answers are the same objects from one rebuild to the next (candidate-memo.ts), so a rebuild
 * of a large cluster reuses the messages of every endpoint that did not change instead of making them
 * again. Messages handed to the store are never changed, so sharing one between assignments is safe.
 * Kept in a hidden slot of the candidate (a non-enumerable symbol, so copies and equality never see it)
 * rather than a WeakMap: a rebuild asks once per endpoint, and the lookup's hashing showed.
 */
interface Built {
  additional: EndpointCandidate | undefined;
  health: HealthStatus;
  weight: number;
  /** Whether `lb` carries the DNS name as hostname (the cluster's `endpointHostname`, live on reload). */
  named: boolean;
  lb: LbEndpoint;
}
const BUILT = Symbol("dns-eds.built-lb-endpoint");
type WithBuilt = { [BUILT]?: Built };

function lbEndpoint(u: Unit, healthChecked: boolean, named: boolean, weight: number): LbEndpoint {
  const healthStatus = u.health === "DRAINING" || healthChecked ? toStatus[u.health] : HealthStatus.UNKNOWN;
  const primary = u.primary as WithBuilt;
  const prev = primary[BUILT];
  if (
    prev !== undefined &&
    prev.additional === u.additional &&
    prev.health === healthStatus &&
    prev.weight === weight &&
    prev.named === named
  ) {
    return prev.lb;
  }
  const lb = freezeLbEndpoint(newLbEndpoint(u, healthStatus, named, weight));
  const built: Built = { additional: u.additional, health: healthStatus, weight, named, lb };
  if (prev !== undefined) primary[BUILT] = built;
  // A candidate someone froze just goes without.
  else if (Object.isExtensible(primary))
    Object.defineProperty(primary, BUILT, { value: built, writable: true });
  return lb;
}

function newLbEndpoint(u: Unit, healthStatus: HealthStatus, named: boolean, weight: number): LbEndpoint {
  const md = u.primary.metadata;
  const host = named ? u.primary.host : "";
  const endpoint: Endpoint = {
    $typeName: "envoy.config.endpoint.v3.Endpoint",
    address: addressOf(u.primary),
    hostname: host.endsWith(".") ? host.slice(0, -1) : host,
    additionalAddresses: u.additional
      ? [
          {
            $typeName: "envoy.config.endpoint.v3.Endpoint.AdditionalAddress",
            address: addressOf(u.additional),
          },
        ]
      : [],
  };
  const lb: LbEndpoint = {
    $typeName: "envoy.config.endpoint.v3.LbEndpoint",
    hostIdentifier: { case: "endpoint", value: endpoint },
    healthStatus,
    loadBalancingWeight: weight,
  };
  const keys = Object.keys(md);
  if (keys.length > 0) {
    // Struct fields are encoded in insertion order, and TXT records arrive in whatever order the DNS
    // server rotates them to: sorted keys keep the bytes (so the version) the same for the same content,
    // in every replica and on every refresh.
    const sorted: Record<string, string> = {};
    for (const k of keys.sort()) sorted[k] = md[k] as string;
    lb.metadata = {
      $typeName: "envoy.config.core.v3.Metadata",
      filterMetadata: { [LB_METADATA_KEY]: sorted },
      typedFilterMetadata: {},
    };
  }
  return lb;
}

type Group = { priority: number; locality: LocalitySpec; weight: number; units: Unit[] };

/**
 * Sets every unit's tier and returns each tier's priority: the dense rank of the tiers present, so
 * priorities are contiguous from 0.
 */
function rankTiers(
  spec: ClusterSpec,
  units: readonly Unit[],
  cz: ClientZone | undefined,
): Map<number, number> {
  const zoneAware = spec.zoneAware && cz !== undefined;
  const tierSet = new Set<number>();
  for (const u of units) {
    const loc = spec.sources[u.primary.sourceIndex]?.locality;
    const inZone =
      !zoneAware ||
      (cz !== undefined &&
        loc !== undefined &&
        loc.zone === cz.zone &&
        (cz.region === "" || loc.region === cz.region));
    // SRV priority < 2^16 and family tier < 2 fit below the zone bit without overlap.
    u.tier = (inZone ? 0 : 1) * 2 ** 20 + u.primary.srvPriority * 2 + familyTier(spec, u.primary.family);
    tierSet.add(u.tier);
  }
  const tiers = [...tierSet].sort((a, b) => a - b);
  return new Map(tiers.map((t, i) => [t, Math.min(i, MAX_PRIORITY)]));
}

/** Units grouped by (priority, locality), in the order the assignment lists them. */
function groupUnits(spec: ClusterSpec, units: readonly Unit[], rank: Map<number, number>): Group[] {
  const groups = new Map<string, Group>();
  // (priority, source) → its group: the string key is made once per pair, not once per endpoint.
  const bySource = new Map<number, Group>();
  const nSources = spec.sources.length;
  for (const u of units) {
    const si = u.primary.sourceIndex;
    const source = spec.sources[si];
    if (!source) continue;
    const priority = rank.get(u.tier) ?? 0;
    let group = bySource.get(priority * nSources + si);
    if (group === undefined) {
      const g = `${priority}|${localityKey(source.locality)}`;
      group = groupOf(groups, g, () => ({ priority, locality: source.locality, weight: 0, units: [] }));
      // Sources sharing a locality share one entry; its weight is the largest of theirs.
      group.weight = Math.max(group.weight, source.weight);
      bySource.set(priority * nSources + si, group);
    }
    group.units.push(u);
  }
  return [...groups.values()].sort(
    (a, b) => a.priority - b.priority || compareStr(localityKey(a.locality), localityKey(b.locality)),
  );
}

/** Each group's locality weight, fitted to uint32 within its priority. */
function localityWeights(ordered: readonly Group[]): Map<Group, number> {
  const byPriority = new Map<number, Group[]>();
  // Not groupOf(…, () => []): the empty literal's array kind differs from a grown list's, and the push
  // after it deoptimised the caller on every rebuild.
  for (const g of ordered) {
    const list = byPriority.get(g.priority);
    if (list === undefined) byPriority.set(g.priority, [g]);
    else list.push(g);
  }
  const out = new Map<Group, number>();
  for (const list of byPriority.values()) {
    const fitted = fitUint32(list.map((g) => g.weight));
    for (let i = 0; i < list.length; i++) out.set(list[i] as Group, fitted[i] ?? 1);
  }
  return out;
}

const byAddressThenPort = (a: Unit, b: Unit): number =>
  compareStr(a.primary.address, b.primary.address) || a.primary.port - b.primary.port;

/** One locality entry: its endpoints in address-then-port order (`inOrder`: they already are). */
function localityEntry(
  g: Group,
  inOrder: boolean,
  healthChecked: boolean,
  named: boolean,
  weight: number,
): LocalityLbEndpoints {
  if (!inOrder) g.units.sort(byAddressThenPort);
  const fitted = fittedWeights(g.units);
  const n = g.units.length;
  const lbEndpoints: LbEndpoint[] = new Array(n);
  for (let i = 0; i < n; i++) {
    const u = g.units[i] as Unit;
    const w = fitted === undefined ? u.primary.weight : (fitted[i] ?? 1);
    lbEndpoints[i] = lbEndpoint(u, healthChecked, named, w);
  }
  // A typed literal, as create() would make it: create() would also walk all the endpoints to ask each
  // whether it is already a message.
  return {
    $typeName: "envoy.config.endpoint.v3.LocalityLbEndpoints",
    locality: {
      $typeName: "envoy.config.core.v3.Locality",
      region: g.locality.region,
      zone: g.locality.zone,
      subZone: g.locality.subZone,
    },
    lbEndpoints,
    lbConfig: { case: undefined },
    loadBalancingWeight: weight,
    priority: g.priority,
  };
}

/**
 * Builds the assignment for a spec from already extracted candidates.
 *
 * Each step is its own small function, and none makes a callback per call. A running server rebuilds
 * a cluster only when its DNS changes, so V8 optimises this code late and again after each
 * deoptimisation. As one large function with every loop inline it took 45-110 ms of optimising compile
 * each time (3 times in the last 40 rebuilds of a W2 run), and a deoptimisation in its cold part threw
 * away the code of its hot loops.
 */
export function buildAssignment(input: BuildInput): ClusterLoadAssignment {
  const { spec } = input;
  const healthChecked = spec.healthCheck !== undefined;
  const named = spec.endpointHostname !== false;
  const selector = spec.selector;
  const current = selector ? input.candidates.filter((c) => matchesSelector(c, selector)) : input.candidates;
  let draining: readonly EndpointCandidate[] = [];
  if (input.draining !== undefined && input.draining.length > 0) {
    const currentKeys = new Set<string>();
    for (const c of current) currentKeys.add(c.key);
    draining = input.draining.filter((c) => !currentKeys.has(c.key) && matchesSelector(c, selector));
  }
  const single = dedup(current, draining, healthChecked ? (input.health ?? noHealth) : undefined);
  const units = pairUnits(spec, single);
  // Unpaired units come out of dedup in address order and keep it through grouping.
  const inOrder = units === single;
  const ordered = groupUnits(spec, units, rankTiers(spec, units, input.clientZone));
  const weights = localityWeights(ordered);
  const endpoints: LocalityLbEndpoints[] = new Array(ordered.length);
  for (let i = 0; i < ordered.length; i++) {
    const g = ordered[i] as Group;
    endpoints[i] = localityEntry(g, inOrder, healthChecked, named, weights.get(g) ?? 1);
  }
  return create(ClusterLoadAssignmentSchema, {
    clusterName: spec.name,
    endpoints,
    policy: {
      overprovisioningFactor: Math.max(1, Math.floor(spec.overprovisioningFactor)),
      ...(spec.staleAfterMs ? { endpointStaleAfter: durationMs(spec.staleAfterMs) } : {}),
    },
  });
}

const noHealth = (): undefined => undefined;

function durationMs(ms: number) {
  return create(DurationSchema, { seconds: BigInt(Math.floor(ms / 1000)), nanos: (ms % 1000) * 1_000_000 });
}

/** Convenience: extract candidates from answers and build in one step. */
export function buildAssignmentFromAnswers(
  spec: ClusterSpec,
  resolutions: ReadonlyArray<SourceResolution | undefined>,
  options: Omit<BuildInput, "spec" | "candidates"> = {},
): ClusterLoadAssignment {
  return buildAssignment({ spec, candidates: extractCandidates(spec, resolutions), ...options });
}
