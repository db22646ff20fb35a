/**
 * Wire form of a cached answer in etcd: the `dnseds.v1.CachedAnswer` message (proto/dnseds/v1/cache.proto).
 * Protobuf so the value can grow fields without breaking older replicas; decoding validates what it
 * reads because another replica (possibly another version) wrote it.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { Answer, DnsRecord, RecordType } from "../dns/types.js";
import {
  CachedAnswerSchema,
  type CachedRecord,
  CachedRecordSchema,
  SrvDataSchema,
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

export function encodeAnswer(answer: Answer, resolvedBy: string): Uint8Array {
  const msg = create(CachedAnswerSchema, {
    name: answer.name,
    type: answer.type,
    rcode: answer.rcode,
    ttlSeconds: Math.max(0, Math.floor(answer.ttl)),
    resolvedAtMs: BigInt(Math.max(0, Math.floor(answer.resolvedAt))),
    resolvedBy,
    server: answer.server,
    records: answer.records.map(encodeRecord),
  });
  if (answer.targets) {
    for (const [name, t] of answer.targets) {
      msg.targets.push(
        create(SrvTargetSchema, { name, a: t.a.map(encodeRecord), aaaa: t.aaaa.map(encodeRecord) }),
      );
    }
  }
  return toBinary(CachedAnswerSchema, msg);
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
  if (msg.targets.length > 0) {
    const targets = new Map<string, { a: DnsRecord[]; aaaa: DnsRecord[] }>();
    for (const t of msg.targets) {
      targets.set(t.name, {
        a: t.a.map((r) => decodeRecord("A", r)),
        aaaa: t.aaaa.map((r) => decodeRecord("AAAA", r)),
      });
    }
    answer.targets = targets;
  }
  return { answer, resolvedBy: msg.resolvedBy };
}
