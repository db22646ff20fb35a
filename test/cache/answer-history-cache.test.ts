/**
 * The cache's side of issue 16: it records each answer's history where it is resolved, re-checks an
 * empty answer after records at the positive TTL and a shrunken one after minTtl, stores the history
 * in the etcd value (dnseds.v1.CachedAnswer field 10) and rejects a history that contradicts its
 * answer. The value format evolves compatibly: a reader without field 10 (an older replica) reads a new
 * value's answer unchanged, and a new reader derives a history for an old value. On real etcd, a
 * follower gets the owner's facts, and a new owner continues the grace the old one started.
 */
import { clone, createFileRegistry, fromBinary, toBinary } from "@bufbuild/protobuf";
import { FileDescriptorProtoSchema } from "@bufbuild/protobuf/wkt";
import { Etcd3 } from "etcd3";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { decodeAnswer, encodeAnswer } from "../../src/cache/answer-codec.js";
import { type CachingResolver, createCachingResolver } from "../../src/cache/caching-resolver.js";
import type { Answer, AnswerContent, DnsRecord } from "../../src/dns/types.js";
import { CachedAnswerSchema, file_dnseds_v1_cache } from "../../src/gen/dnseds/v1/cache_pb.js";
import { type EtcdServer, startEtcd } from "../support/etcd-server.js";
import { until } from "../support/wait-for.js";
import { aRec, FakeUpstream } from "./fake-upstream.js";

const NAME = "api.history.test.";
const T = 1_764_000_000_000;
const recs = (...ips: string[]): DnsRecord[] => ips.map((ip) => aRec(ip, 30));
const content = (records: DnsRecord[], resolvedAt: number, ttl = 30): AnswerContent => ({
  records,
  ttl,
  resolvedAt,
});
const base = (over: Partial<Answer>): Answer => ({
  name: NAME,
  type: "A",
  rcode: 0,
  records: [],
  ttl: 30,
  server: "127.0.0.1:53",
  resolvedAt: T,
  stale: false,
  ...over,
});

/** The CachedAnswer message as a replica built before field 10 existed knows it. */
function oldSchema() {
  const proto = clone(FileDescriptorProtoSchema, file_dnseds_v1_cache.proto);
  const msg = proto.messageType.find((m) => m.name === "CachedAnswer");
  if (!msg) throw new Error("no CachedAnswer in the descriptor");
  msg.field = msg.field.filter((f) => f.number !== 10);
  proto.messageType = proto.messageType.filter(
    (m) => !["AnswerHistory", "AnswerContent", "PendingShrink"].includes(m.name),
  );
  const reg = createFileRegistry(proto, () => undefined);
  const desc = reg.getMessage("dnseds.v1.CachedAnswer");
  if (!desc) throw new Error("old CachedAnswer not built");
  return desc;
}

describe("answer history in the etcd value", () => {
  const cases: Array<[string, Answer]> = [
    [
      "a non-empty answer that is its own confirmed set",
      base({ records: recs("10.0.0.1"), history: { confirmed: content(recs("10.0.0.1"), T) } }),
    ],
    [
      "NXDOMAIN in a grace, with a pending shrink kept",
      base({
        rcode: 3,
        resolvedAt: T + 20_000,
        history: {
          confirmed: content(recs("10.0.0.1", "10.0.0.2", "10.0.0.3"), T),
          emptySince: T + 10_000,
          pending: { content: content(recs("10.0.0.1"), T + 5000), since: T + 5000 },
        },
      }),
    ],
    [
      "a shrink seen once",
      base({
        records: recs("10.0.0.1"),
        resolvedAt: T + 5000,
        history: {
          confirmed: content(recs("10.0.0.1", "10.0.0.2", "10.0.0.3"), T),
          pending: { content: content(recs("10.0.0.1"), T + 5000), since: T + 5000 },
        },
      }),
    ],
  ];
  it.each(cases)("round-trips %s", (_what, answer) => {
    expect(decodeAnswer(encodeAnswer(answer, "r1")).answer).toEqual(answer);
  });

  it("round-trips an SRV grace with the targets of the held set", () => {
    const srvRec: DnsRecord = {
      type: "SRV",
      priority: 0,
      weight: 5,
      port: 80,
      target: "t1.history.test.",
      ttl: 30,
    };
    const targets = new Map([["t1.history.test.", { a: recs("10.0.0.9"), aaaa: [] }]]);
    const answer = base({
      name: "_h._tcp.history.test.",
      type: "SRV",
      rcode: 3,
      resolvedAt: T + 10_000,
      history: { confirmed: { records: [srvRec], targets, ttl: 30, resolvedAt: T }, emptySince: T + 10_000 },
    });
    expect(decodeAnswer(encodeAnswer(answer, "r1")).answer).toEqual(answer);
  });

  it("the common case costs two bytes: a confirmed set equal to the answer is not written twice", () => {
    const plain = base({ records: recs("10.0.0.1", "10.0.0.2") });
    const withHistory = { ...plain, history: { confirmed: content(plain.records, T) } };
    expect(encodeAnswer(withHistory, "r1").length - encodeAnswer(plain, "r1").length).toBe(2);
  });

  it.each<[string, Answer, RegExp]>([
    [
      "an empty answer without the set it follows",
      base({ rcode: 3, history: { confirmed: content(recs("10.0.0.1"), T) } }),
      /without its start|without the confirmed/,
    ],
    [
      "a start of emptiness on a non-empty answer",
      base({
        records: recs("10.0.0.1"),
        history: { confirmed: content(recs("10.0.0.2"), T - 1), emptySince: T - 1 },
      }),
      /non-empty answer/,
    ],
    [
      "emptiness starting after the answer",
      base({ rcode: 3, history: { confirmed: content(recs("10.0.0.2"), T - 1), emptySince: T + 1 } }),
      /starts after the answer/,
    ],
    [
      "a history on a TXT answer",
      base({
        type: "TXT",
        records: [{ type: "TXT", strings: ["a=b"], ttl: 30 }],
        history: { confirmed: content([{ type: "TXT", strings: ["a=b"], ttl: 30 }], T) },
      }),
      /only A, AAAA and SRV/,
    ],
    [
      "a confirmed set without records",
      base({ rcode: 3, history: { confirmed: content([], T - 1), emptySince: T } }),
      /confirmed answer has no records/,
    ],
  ])("rejects %s with ERR_CACHE_DECODE", (_what, answer, message) => {
    const bytes = encodeAnswer(answer, "r1");
    expect(() => decodeAnswer(bytes)).toThrow(message);
    try {
      decodeAnswer(bytes);
    } catch (e) {
      expect((e as { code?: string }).code).toBe("ERR_CACHE_DECODE");
    }
  });

  it("an older replica reads a new value's answer unchanged (field 10 is skipped as unknown)", () => {
    const [, nxInGrace] = cases[1] ?? [];
    if (!nxInGrace) throw new Error("case missing");
    const old = fromBinary(oldSchema(), encodeAnswer(nxInGrace, "r1")) as unknown as {
      rcode: number;
      records: unknown[];
      resolvedBy: string;
      $unknown?: Array<{ no: number }>;
    };
    // It sees the NXDOMAIN (and drains at once, as it always did), nothing broken.
    expect(old.rcode).toBe(3);
    expect(old.records).toEqual([]);
    expect(old.resolvedBy).toBe("r1");
    expect(old.$unknown?.map((u) => u.no)).toEqual([10]);
  });

  it("a new replica reads an older replica's value: no history, so it derives one (see the fleet case)", () => {
    const desc = oldSchema();
    const current = fromBinary(CachedAnswerSchema, encodeAnswer(base({ records: recs("10.0.0.1") }), "old"));
    const bytes = toBinary(desc, fromBinary(desc, toBinary(CachedAnswerSchema, current)));
    const d = decodeAnswer(bytes);
    expect(d.answer.history).toBeUndefined();
    expect(d.answer.records).toEqual(recs("10.0.0.1"));
  });
});

describe("caching resolver records histories (local tier)", () => {
  const open: CachingResolver[] = [];
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
  });

  function setup() {
    let t = T;
    const now = () => t;
    const up = new FakeUpstream(now);
    const r = createCachingResolver({ upstream: up, replicaId: "r1", now, policy: { minTtlSeconds: 5 } });
    open.push(r);
    return { up, r, advance: (ms: number) => (t += ms) };
  }

  it("an NXDOMAIN after records starts an empty run, re-checked at the positive TTL, kept by later ones", async () => {
    const { up, r, advance } = setup();
    up.set(NAME, "A", recs("10.0.0.1", "10.0.0.2"), 30);
    await r.resolve(NAME, "A");
    advance(31_000);
    up.set(NAME, "A", [], 3600, 3);
    const nx = await r.resolve(NAME, "A");
    expect(nx.history?.emptySince).toBe(T + 31_000);
    expect(nx.history?.confirmed.records).toEqual(recs("10.0.0.1", "10.0.0.2"));
    // The SOA said an hour; the name is asked again at its positive TTL so the grace can end early.
    expect(nx.ttl).toBe(30);
    advance(31_000);
    const again = await r.resolve(NAME, "A");
    expect(again.resolvedAt).toBe(T + 62_000);
    expect(again.history?.emptySince).toBe(T + 31_000);
  });

  it("a shrink is re-checked after minTtl, and its second sighting confirms it and is announced", async () => {
    const { up, r, advance } = setup();
    const updates: Answer[] = [];
    r.onUpdate((_n, _t, a) => updates.push(a));
    r.track(NAME, "A");
    up.set(NAME, "A", recs("10.0.0.1", "10.0.0.2", "10.0.0.3"), 60);
    await r.resolve(NAME, "A");
    advance(61_000);
    up.set(NAME, "A", recs("10.0.0.1"), 60);
    const once = await r.resolve(NAME, "A");
    expect(once.ttl).toBe(5);
    expect(once.history?.pending?.since).toBe(T + 61_000);
    advance(6_000);
    const twice = await r.resolve(NAME, "A");
    expect(twice.ttl).toBe(60);
    expect(twice.history?.pending).toBeUndefined();
    expect(twice.history?.confirmed.records).toEqual(recs("10.0.0.1"));
    // Same records twice, but the facts changed, so the endpoints stage hears about it.
    expect(updates.map((u) => (u.history?.pending ? "pending" : "confirmed")).slice(-2)).toEqual([
      "pending",
      "confirmed",
    ]);
  });
});

describe("answer histories across replicas on etcd", () => {
  let etcd: EtcdServer;
  let seq = 0;
  const open: CachingResolver[] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterEach(async () => {
    await Promise.all(open.splice(0).map((r) => r.close()));
  });
  afterAll(async () => {
    await etcd?.close();
  });

  function replica(up: FakeUpstream, prefix: string, id: string): CachingResolver {
    const r = createCachingResolver({
      upstream: up,
      replicaId: id,
      policy: { minTtlSeconds: 1 },
      etcd: {
        endpoints: etcd.endpoints,
        prefix,
        sessionTtlSeconds: 2,
        shards: 8,
        opTimeoutMs: 1000,
        backoffBaseMs: 50,
        backoffMaxMs: 500,
      },
      followerGraceMs: 20_000,
    });
    open.push(r);
    return r;
  }

  it("a follower holds the owner's facts; a new owner keeps the start of the empty run", async () => {
    const prefix = `/history-${++seq}/`;
    const up = new FakeUpstream();
    up.set(NAME, "A", recs("10.0.0.1", "10.0.0.2"), 2);
    const rs = [replica(up, prefix, "r0"), replica(up, prefix, "r1")];
    await Promise.all(rs.map((r) => r.start()));
    await until(
      () => rs.every((r) => r.status().ownership?.balanced && r.status().ownership?.members.length === 2),
      10_000,
      "ownership",
    );
    const key = `A/${NAME}`;
    const owner = rs.find((r) => r.ownership().owns(key));
    const follower = rs.find((r) => r !== owner);
    if (!owner || !follower) throw new Error("no owner");
    const seen = new Map<CachingResolver, Answer>();
    for (const r of rs) {
      r.onUpdate((_n, _t, a) => seen.set(r, a));
      r.track(NAME, "A");
    }
    await until(
      () => rs.every((r) => (seen.get(r)?.records.length ?? 0) === 2),
      10_000,
      "both to hold the records",
    );

    up.set(NAME, "A", [], 600, 3);
    await until(
      () => rs.every((r) => seen.get(r)?.history?.emptySince !== undefined),
      10_000,
      "both to see the empty run",
    );
    const since = seen.get(owner)?.history?.emptySince;
    expect(seen.get(follower)?.history?.emptySince).toBe(since);
    expect(seen.get(follower)?.history?.confirmed.records).toEqual(recs("10.0.0.1", "10.0.0.2"));

    // The owner dies without a word; the follower takes over, resolves NXDOMAIN itself, keeps the start.
    const callsBefore = up.calls;
    await owner.abandon();
    await until(
      () => follower.ownership().owns(key) && up.calls > callsBefore + 1,
      20_000,
      "the follower to resolve as owner",
    );
    await until(
      async () => ((await follower.resolve(NAME, "A")).resolvedAt ?? 0) > (since ?? 0) + 1000,
      10_000,
      "a newer answer",
    );
    const mine = await follower.resolve(NAME, "A");
    expect(mine.rcode).toBe(3);
    expect(mine.history?.emptySince).toBe(since);
  }, 60_000);

  it("a value written by an older replica (no history) gets one derived from what this replica held", async () => {
    const prefix = `/history-${++seq}/`;
    const up = new FakeUpstream();
    up.set(NAME, "A", recs("10.0.0.1", "10.0.0.2"), 30);
    const r = replica(up, prefix, "new");
    await r.start();
    let last: Answer | undefined;
    r.onUpdate((_n, _t, a) => {
      last = a;
    });
    r.track(NAME, "A");
    await until(() => last?.records.length === 2, 10_000, "records");
    const own = last as Answer;
    // An old replica writes NXDOMAIN the old way: the message without field 10.
    const resolvedAt = Date.now() + 1000;
    const oldValue = encodeAnswer(base({ rcode: 3, ttl: 30, resolvedAt }), "old");
    const client = new Etcd3({ hosts: etcd.endpoints });
    try {
      await client.put(`${prefix}v1/dns/A/${NAME}`).value(Buffer.from(oldValue));
      await until(() => last?.rcode === 3, 10_000, "the old replica's NXDOMAIN");
      expect(last?.history?.emptySince).toBe(resolvedAt);
      expect(last?.history?.confirmed.records).toEqual(recs("10.0.0.1", "10.0.0.2"));
      // Held like this replica's own answers: frozen, in the one field order (cached-answer.ts).
      expect(Object.isFrozen(last)).toBe(true);
      expect(Object.keys(last as Answer)).toEqual(Object.keys(own));
    } finally {
      client.close();
    }
  }, 30_000);
});
