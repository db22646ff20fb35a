/**
 * The etcd tier against real etcd: bucketed leases (grants counted) and lease expiry deleting keys
 * without emptying what replicas serve; compaction past a paused watch converging by re-list; a
 * 3-member cluster losing its leader during writes without losing an acknowledged write.
 */
import type { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { decodeAnswer } from "../../src/cache/answer-codec.js";
import { resolvePolicy } from "../../src/cache/cache-policy.js";
import { createEtcdClient } from "../../src/cache/etcd-client.js";
import { EtcdMirror } from "../../src/cache/etcd-mirror.js";
import { EtcdAnswerTier } from "../../src/cache/etcd-tier.js";
import { LeaseBuckets } from "../../src/cache/lease-buckets.js";
import { LocalTier } from "../../src/cache/local-tier.js";
import type { Answer } from "../../src/dns/types.js";
import { type EtcdServer, startEtcd } from "../support/etcd-server.js";
import { until } from "../support/wait-for.js";

const policy = resolvePolicy();

function answer(name: string, address: string, ttl: number, resolvedAt = Date.now()): Answer {
  return {
    name,
    type: "A",
    rcode: 0,
    records: [{ type: "A", address, ttl }],
    ttl,
    server: "127.0.0.1:53",
    resolvedAt,
    stale: false,
  };
}

interface Node {
  client: Etcd3;
  mirror: EtcdMirror;
  local: LocalTier;
  leases: LeaseBuckets;
  tier: EtcdAnswerTier;
  close(): Promise<void>;
}

async function node(endpoints: string[], prefix: string, bucketMs = 5000): Promise<Node> {
  const client = createEtcdClient({ endpoints, opTimeoutMs: 1500 });
  const mirror = new EtcdMirror({ client, prefix, backoffBaseMs: 50, backoffMaxMs: 500 });
  const local = new LocalTier();
  const leases = new LeaseBuckets({ client, bucketMs });
  const tier = new EtcdAnswerTier({ mirror, local, leases, policy, replicaId: "t", now: Date.now });
  await mirror.start();
  return {
    client,
    mirror,
    local,
    leases,
    tier,
    close: async () => {
      await mirror.close();
      client.close();
    },
  };
}

async function etcdKeys(client: Etcd3, prefix: string): Promise<Map<string, Buffer>> {
  const res = await client.getAll().prefix(`${prefix}v1/dns/`).exec();
  return new Map(res.kvs.map((kv) => [kv.key.toString().slice(`${prefix}v1/dns/`.length), kv.value]));
}

describe("etcd tier (single member)", () => {
  let etcd: EtcdServer;
  const nodes: Node[] = [];
  beforeAll(async () => {
    etcd = await startEtcd();
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await etcd?.close();
  });

  it("shares one lease per expiry bucket and lets expired keys go without emptying replicas", async () => {
    const prefix = "/lease-test/";
    const writer = await node(etcd.endpoints, prefix, 2000);
    const reader = await node(etcd.endpoints, prefix, 2000);
    nodes.push(writer, reader);
    const t0 = Date.now();
    const n = 300;
    const acks = await Promise.all(
      Array.from({ length: n }, (_, i) =>
        writer.tier.put(`A/n${i}.test.`, answer(`n${i}.test.`, "10.0.0.1", 5, t0)),
      ),
    );
    expect(acks.every(Boolean)).toBe(true);
    // 300 keys expiring in the same 2 s window: one or two grants, never one per key.
    expect(writer.leases.grants).toBeLessThanOrEqual(2);
    expect((await etcdKeys(writer.client, prefix)).size).toBe(n);
    await until(() => reader.local.size === n, 5000, "reader to see all keys");

    // Keys never expire before their TTL: every lease used outlives t0 + 5 s (etcd reports whole seconds).
    const res = await writer.client.getAll().prefix(`${prefix}v1/dns/`).exec();
    const leaseIds = new Set(res.kvs.map((kv) => String(kv.lease)));
    expect(leaseIds.size).toBeLessThanOrEqual(2);
    for (const id of leaseIds) {
      const asked = Date.now();
      const ttl = await writer.client.leaseClient.leaseTimeToLive({ ID: id, keys: false });
      expect(asked + (Number(ttl.TTL) + 1) * 1000).toBeGreaterThanOrEqual(t0 + 5_000);
    }
    await until(async () => (await etcdKeys(writer.client, prefix)).size === 0, 8000, "lease expiry");
    // The delete events did not withdraw anything a replica serves: the entries remain for serve-stale.
    expect(reader.local.size).toBe(n);
    const e = reader.local.lookup("A/n7.test.", Date.now());
    expect(e.state).toBe("stale");
  });

  it("re-lists after compaction past a paused watch and converges with 0 differing keys", async () => {
    const prefix = "/compact-test/";
    const a = await node(etcd.endpoints, prefix);
    const b = await node(etcd.endpoints, prefix);
    nodes.push(a, b);
    const t0 = Date.now();
    for (let i = 0; i < 20; i++) await b.tier.put(`A/c${i}.test.`, answer(`c${i}.test.`, "10.0.1.1", 60, t0));
    await until(() => a.local.size === 20, 5000, "initial sync");
    await a.mirror.suspendWatch();
    for (let i = 0; i < 40; i++) {
      await b.tier.put(`A/c${i}.test.`, answer(`c${i}.test.`, `10.0.2.${i}`, 60, t0 + 1000 + i));
    }
    const rev = Number((await b.client.get(`${prefix}v1/dns/A/c0.test.`).exec()).header.revision);
    await b.client.kv.compact({ revision: String(rev), physical: true });
    const relistsBefore = a.mirror.stats().relists;
    await a.mirror.resumeWatch();
    await until(
      () => a.mirror.state() === "connected" && a.mirror.stats().relists > relistsBefore,
      10_000,
      "re-list",
    );
    const inEtcd = await etcdKeys(b.client, prefix);
    expect(inEtcd.size).toBe(40);
    // A value nobody can decode (another program, a corrupted write) is ignored and counted, not fatal.
    await b.client
      .put(`${prefix}v1/dns/A/junk.test.`)
      .value(Buffer.from([0xff, 0xff, 0xff]))
      .exec();
    await until(() => a.tier.stats().decodeErrors > 0, 5000, "junk value to be seen");
    expect(a.local.peek("A/junk.test.")).toBeUndefined();
    await b.client.delete().key(`${prefix}v1/dns/A/junk.test.`).exec();
    let differing = 0;
    for (const [key, value] of inEtcd) {
      const want = decodeAnswer(value).answer;
      const got = a.local.peek(key)?.answer;
      if (
        !got ||
        got.resolvedAt !== want.resolvedAt ||
        JSON.stringify(got.records) !== JSON.stringify(want.records)
      ) {
        differing++;
      }
    }
    expect(differing).toBe(0);
    expect(a.mirror.stats().watchErrors).toBeGreaterThan(0);
  });
});

describe("etcd tier (3-member cluster)", () => {
  let cluster: EtcdServer;
  const nodes: Node[] = [];
  beforeAll(async () => {
    cluster = await startEtcd({ members: 3 });
  });
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    await cluster?.close();
  });

  it("loses 0 acknowledged updates when the leader is killed during writes", async () => {
    const prefix = "/leader-test/";
    const w = await node(cluster.endpoints, prefix);
    nodes.push(w);
    const acked = new Map<string, string>();
    const written = new Map<string, string>();
    const t0 = Date.now();
    let killed = false;
    // Rounds of 100 concurrent writes (one per key), so writes are in flight when the leader dies.
    for (let round = 0; round < 4; round++) {
      if (round === 2) {
        const leader = await cluster.leader();
        void leader.kill();
        killed = true;
      }
      await Promise.all(
        Array.from({ length: 100 }, async (_, k) => {
          const key = `A/k${k}.test.`;
          const addr = `10.1.${round}.${k}`;
          written.set(key, addr);
          const ok = await w.tier.put(key, answer(`k${k}.test.`, addr, 120, t0 + round * 100 + k));
          if (ok) acked.set(key, addr);
        }),
      );
    }
    expect(killed).toBe(true);
    // Writes that were not acknowledged were queued and are replayed once the mirror reconnects.
    await until(() => w.mirror.state() === "connected" && w.tier.stats().pending === 0, 20_000, "replay");
    const verify = createEtcdClient({ endpoints: cluster.endpoints, opTimeoutMs: 2000 });
    try {
      const inEtcd = await etcdKeys(verify, prefix);
      let lostAcked = 0;
      for (const [key, addr] of acked) {
        const v = inEtcd.get(key);
        const got = v ? decodeAnswer(v).answer : undefined;
        // The acked value or a later write of the same key.
        const later = written.get(key);
        const gotAddr = got?.records[0]?.type === "A" ? got.records[0].address : undefined;
        if (gotAddr !== addr && gotAddr !== later) lostAcked++;
      }
      expect(lostAcked).toBe(0);
      // And every key ends with its last written value.
      for (const [key, addr] of written) {
        const v = inEtcd.get(key);
        const got = v ? decodeAnswer(v).answer.records[0] : undefined;
        expect(got?.type === "A" ? got.address : undefined, key).toBe(addr);
      }
      expect(acked.size).toBeGreaterThan(0);
    } finally {
      verify.close();
    }
  });
});
