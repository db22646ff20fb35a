/**
 * An answer read from etcd is checked like a DNS answer before it may be served: whoever can write
 * the prefix (a compromised replica, a stolen etcd credential, an operator's typo) must not be able
 * to feed every replica something DNS could never have said. IP literals only, names that are DNS
 * names, sizes no DNS message could exceed, the TTL clamped by the same policy as fresh answers, and
 * `resolvedAt` no later than now plus a small clock skew (a far-future time would pin the answer on
 * every replica, since the newest answer wins). The rebinding guard is applied later, per cluster, by
 * the endpoints stage, to every answer whatever tier it came from.
 */
import { isIPv4, isIPv6 } from "node:net";
import { nameProblem } from "../dns/name-validation.js";
import type { Answer, DnsRecord } from "../dns/types.js";
import type { DecodedAnswer } from "./answer-codec.js";
import { cacheKey } from "./cache-key.js";
import { type CachePolicy, cacheTtlSeconds } from "./cache-policy.js";
import type { EtcdRejectReason } from "./etcd-rejections.js";

/** More records than a 64 KiB DNS message can carry (16 bytes per compressed A record). */
export const MAX_ETCD_RECORDS = 4096;
/** TXT bytes per answer at most: a DNS message is at most 64 KiB. */
export const MAX_ETCD_TXT_BYTES = 65_535;
/** Default for how far in the future `resolvedAt` may be (clock skew between replicas). */
export const DEFAULT_MAX_CLOCK_SKEW_MS = 5_000;

export interface AnswerCheckOptions {
  now: number;
  maxClockSkewMs: number;
  policy: CachePolicy;
}

export type AnswerCheck =
  | { ok: true; answer: Answer }
  | { ok: false; reason: EtcdRejectReason; detail: string };

const fail = (reason: EtcdRejectReason, detail: string): Fail => ({ ok: false, reason, detail });
const PRINTABLE = /^[\x21-\x7e]*$/;

function addressProblem(r: DnsRecord, want: "A" | "AAAA"): string | undefined {
  if (r.type !== want) return `a ${r.type} record where ${want} belongs`;
  const ok = want === "A" ? isIPv4(r.address) : isIPv6(r.address) && !r.address.includes("%");
  return ok ? undefined : `${want} address ${JSON.stringify(r.address.slice(0, 64))} is not an IP literal`;
}

export function checkEtcdAnswer(key: string, decoded: DecodedAnswer, o: AnswerCheckOptions): AnswerCheck {
  const a = decoded.answer;
  const np = nameProblem(a.name, "lookup");
  if (np || a.name !== a.name.toLowerCase() || !a.name.endsWith("."))
    return fail(
      "bad_name",
      `name ${JSON.stringify(a.name.slice(0, 64))}: ${np ?? "not lower case and fully qualified"}`,
    );
  if (key !== cacheKey(a.name, a.type))
    return fail("key_mismatch", `stored under ${key}, holds ${a.type} ${a.name}`);
  if (a.rcode !== 0 && a.rcode !== 3) return fail("bad_rcode", `rcode ${a.rcode} is not an answer`);
  if (a.rcode === 3 && a.records.length > 0) return fail("bad_rcode", "NXDOMAIN with records");
  if (
    !PRINTABLE.test(a.server) ||
    a.server.length > 300 ||
    !PRINTABLE.test(decoded.resolvedBy) ||
    decoded.resolvedBy.length > 128
  )
    return fail("bad_value", "server or resolvedBy is not short printable text");

  const content = contentProblem(a.type, a.records, a.targets);
  if (content) return content;
  if (a.history) {
    // The flap guard may serve a history's confirmed set during a grace: it is checked the same way.
    const h = a.history;
    for (const c of [h.confirmed, ...(h.pending ? [h.pending.content] : [])]) {
      const p = contentProblem(a.type, c.records, c.targets);
      if (p) return { ...p, detail: `history: ${p.detail}` };
      if (!Number.isSafeInteger(c.resolvedAt) || c.resolvedAt < 0 || c.resolvedAt > o.now + o.maxClockSkewMs)
        return fail("future_resolved_at", `history: resolvedAt ${c.resolvedAt}`);
    }
    for (const t of [h.emptySince, h.pending?.since]) {
      if (t !== undefined && (!Number.isSafeInteger(t) || t < 0 || t > o.now + o.maxClockSkewMs))
        return fail("future_resolved_at", `history: time ${t}`);
    }
  }

  if (!Number.isSafeInteger(a.resolvedAt) || a.resolvedAt < 0)
    return fail("bad_value", `resolvedAt ${a.resolvedAt}`);
  if (a.resolvedAt > o.now + o.maxClockSkewMs)
    return fail(
      "future_resolved_at",
      `resolvedAt is ${Math.round((a.resolvedAt - o.now) / 1000)} s in the future (more than ${o.maxClockSkewMs} ms of clock skew)`,
    );
  const ttl = cacheTtlSeconds(a, o.policy);
  if (ttl <= 0) return fail("bad_ttl", `TTL ${a.ttl} cannot be cached`);
  return { ok: true, answer: ttl === a.ttl ? a : { ...a, ttl } };
}

type Fail = { ok: false; reason: EtcdRejectReason; detail: string };

/** Records (and SRV target addresses) as DNS could have sent them, or why not. */
function contentProblem(
  type: Answer["type"],
  records: readonly DnsRecord[],
  targets: Answer["targets"],
): Fail | undefined {
  if (records.length > MAX_ETCD_RECORDS) return fail("too_large", `${records.length} records`);
  if ((targets?.size ?? 0) > MAX_ETCD_RECORDS) return fail("too_large", `${targets?.size} SRV targets`);
  let txtBytes = 0;
  const srvTargets = new Set<string>();
  for (const r of records) {
    if (type === "A" || type === "AAAA") {
      const p = addressProblem(r, type);
      if (p) return fail("bad_address", p);
    } else if (r.type === "SRV") {
      if (r.target !== "." && nameProblem(r.target, "lookup") !== undefined)
        return fail("bad_name", `SRV target ${JSON.stringify(r.target.slice(0, 64))} is not a DNS name`);
      srvTargets.add(r.target.toLowerCase());
    } else if (r.type === "TXT") {
      for (const s of r.strings) txtBytes += Buffer.byteLength(s);
      if (txtBytes > MAX_ETCD_TXT_BYTES)
        return fail("too_large", `more than ${MAX_ETCD_TXT_BYTES} TXT bytes`);
    }
  }
  for (const [name, t] of targets ?? []) {
    if (!srvTargets.has(name))
      return fail(
        "bad_value",
        `addresses for ${JSON.stringify(name.slice(0, 64))}, which no SRV record names`,
      );
    if (t.a.length + t.aaaa.length > MAX_ETCD_RECORDS)
      return fail("too_large", `${name}: too many addresses`);
    for (const r of t.a) {
      const p = addressProblem(r, "A");
      if (p) return fail("bad_address", `target ${name}: ${p}`);
    }
    for (const r of t.aaaa) {
      const p = addressProblem(r, "AAAA");
      if (p) return fail("bad_address", `target ${name}: ${p}`);
    }
  }

  return undefined;
}
