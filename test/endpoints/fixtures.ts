/** Builders of ClusterSpecs and DNS answers for endpoint tests, so each test states only what it varies. */
import type { Answer, DnsRecord } from "../../src/dns/types.js";
import type { ClusterSpec, LocalitySpec, SourceSpec } from "../../src/endpoints/cluster-spec.js";

export const T0 = 1_700_000_000_000;

export const loc = (zone: string, region = "r1", subZone = ""): LocalitySpec => ({ region, zone, subZone });

export function cluster(over: Partial<ClusterSpec> = {}): ClusterSpec {
  return {
    name: "svc",
    sources: [dnsSource("svc.example.com", 8080)],
    ipFamily: "V4_PREFERRED",
    happyEyeballs: false,
    zoneAware: false,
    grpcListener: false,
    connectTimeoutMs: 1000,
    lbPolicy: "ROUND_ROBIN",
    overprovisioningFactor: 140,
    drainMs: 30_000,
    // The product default: tests that resolve to loopback say `allowLoopback: true` themselves.
    allowLoopback: false,
    ...over,
  };
}

const base = { locality: loc("z1"), weight: 1, metadata: {}, txtMetadata: false };

export const dnsSource = (name: string, port: number, over: Partial<SourceSpec> = {}): SourceSpec =>
  ({ ...base, kind: "dns", name, port, ...over }) as SourceSpec;
export const srvSource = (name: string, over: Partial<SourceSpec> = {}): SourceSpec =>
  ({ ...base, kind: "srv", name, ...over }) as SourceSpec;
export const staticSource = (
  addresses: Array<{ address: string; port: number }>,
  over: Partial<SourceSpec> = {},
): SourceSpec => ({ ...base, kind: "static", addresses, ...over }) as SourceSpec;

export function answer(
  name: string,
  type: Answer["type"],
  records: DnsRecord[],
  extra: Partial<Answer> = {},
): Answer {
  return {
    name: name.endsWith(".") ? name : `${name}.`,
    type,
    rcode: 0,
    records,
    ttl: 30,
    server: "test",
    resolvedAt: T0,
    stale: false,
    ...extra,
  };
}

export const aRecs = (...ips: string[]): DnsRecord[] =>
  ips.map((address) => ({ type: "A", address, ttl: 30 }));
export const aaaaRecs = (...ips: string[]): DnsRecord[] =>
  ips.map((address) => ({ type: "AAAA", address, ttl: 30 }));
export const txtRecs = (...kv: string[]): DnsRecord[] =>
  kv.map((s) => ({ type: "TXT", strings: [s], ttl: 30 }));

export const a = (name: string, ...ips: string[]): Answer => answer(name, "A", aRecs(...ips));
export const aaaa = (name: string, ...ips: string[]): Answer => answer(name, "AAAA", aaaaRecs(...ips));

export interface SrvEntry {
  priority: number;
  weight: number;
  port: number;
  target: string;
  v4?: string[];
  v6?: string[];
}

export function srv(name: string, entries: SrvEntry[]): Answer {
  const targets = new Map<string, { a: DnsRecord[]; aaaa: DnsRecord[] }>();
  for (const e of entries) {
    const t = e.target.endsWith(".") ? e.target : `${e.target}.`;
    targets.set(t, { a: aRecs(...(e.v4 ?? [])), aaaa: aaaaRecs(...(e.v6 ?? [])) });
  }
  return answer(
    name,
    "SRV",
    entries.map((e) => ({
      type: "SRV",
      priority: e.priority,
      weight: e.weight,
      port: e.port,
      target: e.target,
      ttl: 30,
    })),
    { targets },
  );
}
