/**
 * Flattens what DNS said about each source of a cluster into one list of candidate endpoints
 * (address, port, where it came from, SRV priority/weight, metadata, TTL). Pure; the assignment builder
 * and the pipeline's drain tracking both work on these candidates.
 */
import { isIP } from "node:net";
import type { Answer, DnsRecord } from "../dns/types.js";
import { endpointKey } from "../health/types.js";
import type { ClusterSpec, SourceSpec } from "./cluster-spec.js";
import { parseTxtMetadata } from "./txt-metadata.js";

/** The answers the pipeline holds for one source; which fields matter depends on the source kind. */
export interface SourceResolution {
  /** dns sources: A and AAAA answers (absent = not tracked for this family or not resolved yet). */
  a?: Answer;
  aaaa?: Answer;
  /** srv sources: the SRV answer, with `targets` holding each target's A/AAAA records. */
  srv?: Answer;
  /** TXT at the source name, when the source has txtMetadata. */
  txt?: Answer;
}

export interface EndpointCandidate {
  /** `address|port`, the health and dedup key. */
  key: string;
  /** Index into ClusterSpec.sources. */
  sourceIndex: number;
  /** DNS name the address came from (A/AAAA name or SRV target); "" for static addresses. */
  host: string;
  address: string;
  port: number;
  family: 4 | 6;
  /** Raw SRV priority (lower is preferred); 0 for non-SRV sources. */
  srvPriority: number;
  /** Endpoint load-balancing weight, ≥ 1 (SRV weight 0 becomes 1: gRPC and Envoy reject 0). */
  weight: number;
  metadata: Readonly<Record<string, string>>;
  /** Unix ms when the record behind this candidate expires; undefined for static addresses. */
  expiresAt?: number;
}

const fqdn = (name: string): string => {
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower : `${lower}.`;
};

const expiry = (answer: Answer, record: DnsRecord): number =>
  answer.resolvedAt + Math.min(answer.ttl, record.ttl) * 1000;

const wantsFamily = (spec: ClusterSpec, family: 4 | 6): boolean =>
  family === 4 ? spec.ipFamily !== "V6_ONLY" : spec.ipFamily !== "V4_ONLY";

function sourceMetadata(source: SourceSpec, res: SourceResolution | undefined): Record<string, string> {
  // Config wins over TXT: the operator's file is the deliberate statement, DNS labels are a convenience.
  const fromTxt = source.txtMetadata && res?.txt ? parseTxtMetadata(res.txt.records) : {};
  return { ...fromTxt, ...source.metadata };
}

/** Candidates of every source, in source order; the caller dedups and filters (see assignment-builder). */
export function extractCandidates(
  spec: ClusterSpec,
  resolutions: ReadonlyArray<SourceResolution | undefined>,
): EndpointCandidate[] {
  const out: EndpointCandidate[] = [];
  for (let i = 0; i < spec.sources.length; i++) extractSource(spec, i, resolutions[i], out);
  return out;
}

const byAddress = (x: EndpointCandidate, y: EndpointCandidate): number =>
  x.address < y.address ? -1 : x.address > y.address ? 1 : 0;

/**
 * Appends the candidates of `spec.sources[sourceIndex]` to `out`: a name's addresses in address order,
 * SRV targets in the order the answer lists them, static addresses as configured.
 */
export function extractSource(
  spec: ClusterSpec,
  sourceIndex: number,
  res: SourceResolution | undefined,
  out: EndpointCandidate[],
): void {
  const source = spec.sources[sourceIndex];
  if (!source) return;
  const metadata = sourceMetadata(source, res);
  const push = (
    host: string,
    address: string,
    port: number,
    srvPriority: number,
    weight: number,
    expiresAt: number | undefined,
  ): void => {
    const fam = isIP(address);
    if (fam !== 4 && fam !== 6) return;
    if (!wantsFamily(spec, fam)) return;
    if (!Number.isInteger(port) || port < 1 || port > 65535) return;
    const c: EndpointCandidate = {
      key: endpointKey(address, port),
      sourceIndex,
      host,
      address,
      port,
      family: fam,
      srvPriority,
      weight: Math.max(1, weight),
      metadata,
    };
    if (expiresAt !== undefined) c.expiresAt = expiresAt;
    out.push(c);
  };
  switch (source.kind) {
    case "static":
      for (const a of source.addresses) push("", a.address, a.port, 0, 1, undefined);
      break;
    case "dns": {
      const host = fqdn(source.name);
      const from = out.length;
      for (const answer of [res?.a, res?.aaaa]) {
        if (!answer) continue;
        for (const r of answer.records) {
          if (r.type === "A" || r.type === "AAAA")
            push(host, r.address, source.port, 0, 1, expiry(answer, r));
        }
      }
      // In address order, not the order the DNS server rotated them to: the builder orders each
      // locality's endpoints by address, and runs already in that order make its sort near-linear
      // (a 10,000-endpoint cluster is re-sorted on every rebuild; its sources are sorted only when
      // their answers change, candidate-memo.ts). One source has one port, so address decides.
      if (out.length - from > 1) {
        const mine = out.splice(from).sort(byAddress);
        for (const c of mine) out.push(c);
      }
      break;
    }
    case "srv": {
      const answer = res?.srv;
      if (!answer) break;
      for (const r of answer.records) {
        if (r.type !== "SRV") continue;
        const target = fqdn(r.target);
        if (target === ".") continue; // RFC 2782: "service decidedly not available"
        const addrs = answer.targets?.get(target);
        if (!addrs) continue;
        for (const rec of [...addrs.a, ...addrs.aaaa]) {
          if (rec.type !== "A" && rec.type !== "AAAA") continue;
          push(target, rec.address, r.port, r.priority, r.weight, expiry(answer, r));
        }
      }
      break;
    }
  }
}
