/**
 * Wire form of a cached answer in etcd: the `dnseds.v1.CachedAnswer` message (proto/dnseds/v1/cache.proto).
 * Protobuf so the value can grow fields without breaking older replicas; decoding validates what it
 * reads because another replica (possibly another version) wrote it.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { contentOf, HISTORY_TYPES, isEmptyAnswer, sameRecords } from "../dns/answer-history.js";
import type { Answer, AnswerContent, AnswerHistory, DnsRecord, RecordType } from "../dns/types.js";
import {
  type AnswerContent as AnswerContentMsg,
  AnswerContentSchema,
  type AnswerHistory as AnswerHistoryMsg,
  AnswerHistorySchema,
  CachedAnswerSchema,
  type CachedRecord,
  CachedRecordSchema,
  PendingShrinkSchema,
  SrvDataSchema,
  type SrvTarget,
  SrvTargetSchema,
  TxtDataSchema,
} from "../gen/dnseds/v1/cache_pb.js";
import { CacheError } from "./errors.js";

const RECORD_TYPES: ReadonlySet<string> = new Set(["A", "AAAA", "SRV", "TXT"]);

export interface DecodedAnswer {
  answer: Answer;
  /** Replica id that resolved it. */
  resolvedBy: string;
}

function encodeRecord(r: DnsRecord): CachedRecord {
  const ttlSeconds = r.ttl >>> 0;
  switch (r.type) {
    case "A":
    case "AAAA":
      return create(CachedRecordSchema, { ttlSeconds, data: { case: "address", value: r.address } });
    case "SRV":
      return create(CachedRecordSchema, {
        ttlSeconds,
        data: {
          case: "srv",
          value: create(SrvDataSchema, {
            priority: r.priority,
            weight: r.weight,
            port: r.port,
            target: r.target,
          }),
        },
      });
    case "TXT":
      return create(CachedRecordSchema, {
        ttlSeconds,
        data: { case: "txt", value: create(TxtDataSchema, { strings: r.strings }) },
      });
  }
}

function decodeRecord(type: RecordType | "A" | "AAAA", r: CachedRecord): DnsRecord {
  const ttl = r.ttlSeconds;
  const d = r.data;
  if ((type === "A" || type === "AAAA") && d.case === "address") return { type, address: d.value, ttl };
  if (type === "SRV" && d.case === "srv") {
    const { priority, weight, port, target } = d.value;
    if (priority > 0xffff || weight > 0xffff || port > 0xffff) {
      throw new CacheError("ERR_CACHE_DECODE", "SRV field out of range");
    }
    return { type, priority, weight, port, target, ttl };
  }
  if (type === "TXT" && d.case === "txt") return { type, strings: [...d.value.strings], ttl };
  throw new CacheError("ERR_CACHE_DECODE", `record of case ${String(d.case)} in a ${type} answer`);
}

const uint64Ms = (ms: number): bigint => BigInt(Math.max(0, Math.floor(ms)));

function encodeTargets(targets: Answer["targets"]): SrvTarget[] {
  const out: SrvTarget[] = [];
  for (const [name, t] of targets ?? []) {
    out.push(create(SrvTargetSchema, { name, a: t.a.map(encodeRecord), aaaa: t.aaaa.map(encodeRecord) }));
  }
  return out;
}

/** True when `c` is the answer's own content, which the wire form leaves out (the common case). */
function isOwnContent(c: AnswerContent, answer: Answer): boolean {
  return (
    c.resolvedAt === answer.resolvedAt && !isEmptyAnswer(answer) && sameRecords(c.records, answer.records)
  );
}

function encodeContent(c: AnswerContent): AnswerContentMsg {
  return create(AnswerContentSchema, {
    records: c.records.map(encodeRecord),
    targets: encodeTargets(c.targets),
    ttlSeconds: Math.max(0, Math.floor(c.ttl)),
    resolvedAtMs: uint64Ms(c.resolvedAt),
  });
}

function encodeHistory(answer: Answer, h: AnswerHistory): AnswerHistoryMsg {
  const msg = create(AnswerHistorySchema, { emptySinceMs: uint64Ms(h.emptySince ?? 0) });
  if (!isOwnContent(h.confirmed, answer)) msg.confirmed = encodeContent(h.confirmed);
  if (h.pending) {
    msg.pending = create(PendingShrinkSchema, { sinceMs: uint64Ms(h.pending.since) });
    if (!isOwnContent(h.pending.content, answer)) msg.pending.content = encodeContent(h.pending.content);
  }
  return msg;
}

export function encodeAnswer(answer: Answer, resolvedBy: string): Uint8Array {
  const msg = create(CachedAnswerSchema, {
    name: answer.name,
    type: answer.type,
    rcode: answer.rcode,
    ttlSeconds: Math.max(0, Math.floor(answer.ttl)),
    resolvedAtMs: uint64Ms(answer.resolvedAt),
    resolvedBy,
    server: answer.server,
    records: answer.records.map(encodeRecord),
    targets: encodeTargets(answer.targets),
  });
  if (answer.history) msg.history = encodeHistory(answer, answer.history);
  return toBinary(CachedAnswerSchema, msg);
}

function decodeTargets(
  targets: readonly SrvTarget[],
): Map<string, { a: DnsRecord[]; aaaa: DnsRecord[] }> | undefined {
  if (targets.length === 0) return undefined;
  const out = new Map<string, { a: DnsRecord[]; aaaa: DnsRecord[] }>();
  for (const t of targets) {
    out.set(t.name, {
      a: t.a.map((r) => decodeRecord("A", r)),
      aaaa: t.aaaa.map((r) => decodeRecord("AAAA", r)),
    });
  }
  return out;
}

function decodeContent(type: RecordType, msg: AnswerContentMsg, what: string): AnswerContent {
  const records = msg.records.map((r) => decodeRecord(type, r));
  if (records.length === 0)
    throw new CacheError("ERR_CACHE_DECODE", `history: ${what} answer has no records`);
  const c: AnswerContent = { records, ttl: msg.ttlSeconds, resolvedAt: Number(msg.resolvedAtMs) };
  const targets = decodeTargets(msg.targets);
  if (targets) c.targets = targets;
  return c;
}

/**
 * The history as written, checked against its answer: an empty answer needs the confirmed answer it
 * hides and the start of its empty run; a non-empty one has no empty run; no time lies past the answer.
 */
function decodeHistory(answer: Answer, msg: AnswerHistoryMsg): AnswerHistory {
  const bad = (why: string) =>
    new CacheError("ERR_CACHE_DECODE", `history of ${answer.type} ${answer.name}: ${why}`);
  if (!HISTORY_TYPES.has(answer.type)) throw bad("only A, AAAA and SRV answers have one");
  const empty = isEmptyAnswer(answer);
  if (!msg.confirmed && empty) throw bad("an empty answer without the confirmed answer it follows");
  const h: AnswerHistory = {
    confirmed: msg.confirmed ? decodeContent(answer.type, msg.confirmed, "confirmed") : contentOf(answer),
  };
  const emptySince = Number(msg.emptySinceMs);
  if (empty !== emptySince > 0)
    throw bad(empty ? "an empty answer without its start" : "a start of emptiness on a non-empty answer");
  if (emptySince > answer.resolvedAt) throw bad("emptiness starts after the answer");
  if (empty) h.emptySince = emptySince;
  if (msg.pending) {
    const since = Number(msg.pending.sinceMs);
    if (since > answer.resolvedAt) throw bad("a pending answer seen after this one");
    if (!msg.pending.content && empty) throw bad("an empty answer as the pending one");
    const content = msg.pending.content
      ? decodeContent(answer.type, msg.pending.content, "pending")
      : contentOf(answer);
    h.pending = { content, since };
  }
  return h;
}

/** Decodes and validates; throws CacheError ERR_CACHE_DECODE on anything that is not a sane answer. */
export function decodeAnswer(bytes: Uint8Array): DecodedAnswer {
  let msg: ReturnType<typeof fromBinary<typeof CachedAnswerSchema>>;
  try {
    msg = fromBinary(CachedAnswerSchema, bytes);
  } catch (err) {
    throw new CacheError("ERR_CACHE_DECODE", "not a dnseds.v1.CachedAnswer", { cause: err });
  }
  if (!RECORD_TYPES.has(msg.type))
    throw new CacheError("ERR_CACHE_DECODE", `unknown record type ${msg.type}`);
  if (!msg.name.endsWith("."))
    throw new CacheError("ERR_CACHE_DECODE", `name ${msg.name} is not fully qualified`);
  const type = msg.type as RecordType;
  const records = msg.records.map((r) => decodeRecord(type, r));
  const answer: Answer = {
    name: msg.name,
    type,
    rcode: msg.rcode,
    records,
    ttl: msg.ttlSeconds,
    server: msg.server,
    resolvedAt: Number(msg.resolvedAtMs),
    stale: false,
  };
  const targets = decodeTargets(msg.targets);
  if (targets) answer.targets = targets;
  if (msg.history) answer.history = decodeHistory(answer, msg.history);
  return { answer, resolvedBy: msg.resolvedBy };
}
