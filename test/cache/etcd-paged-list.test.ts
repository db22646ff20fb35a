/**
 * A grown keyspace must not leave a replica stuck degraded: the prefix is listed in pages, so it is
 * never one response over the client's 4 MiB receive limit. Real etcd with ~5.6 MB of answers under
 * the prefix; a single Range over it fails (shown first), the mirror still connects and applies all.
 */
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { encodeAnswer } from "../../src/cache/answer-codec.js";
import { type CachingResolver, createCachingResolver } from "../../src/cache/caching-resolver.js";
import { prefixEnd } from "../../src/cache/etcd-paged-list.js";
import type { Answer, DnsRecord } from "../../src/dns/types.js";
import { type EtcdServer, startEtcd } from "../support/etcd-server.js";
import { FakeUpstream } from "./fake-upstream.js";

const PREFIX = "/paged/";
const KEYS = 80;
const RECORDS = 4000;

let etcd: EtcdServer;
let client: Etcd3;
let replica: CachingResolver | undefined;

beforeAll(async () => {
  etcd = await startEtcd();
  client = new Etcd3({ hosts: etcd.endpoints });
  const now = Date.now();
  for (let k = 0; k < KEYS; k++) {
    const records: DnsRecord[] = Array.from({ length: RECORDS }, (_, i) => ({
      type: "A",
      address: `127.${k}.${i >> 8}.${i & 255}`,
      ttl: 300,
    }));
    const name = `n${k}.paged.test.`;
    const answer: Answer = {
      name,
      type: "A",
      rcode: 0,
      records,
      ttl: 300,
      server: "test",
      resolvedAt: now,
      stale: false,
    };
    await client
      .put(`${PREFIX}v1/dns/A/${name}`)
      .value(Buffer.from(encodeAnswer(answer, "writer")))
      .exec();
  }
}, 120_000);

afterAll(async () => {
  await replica?.close();
  client?.close();
  await etcd?.close();
});

describe("listing the etcd prefix", () => {
  it("is more than one Range can carry", async () => {
    const total = (await client.getAll().prefix(`${PREFIX}v1/`).keys()).length;
    expect(total).toBe(KEYS);
    await expect(client.getAll().prefix(`${PREFIX}v1/`).exec()).rejects.toThrow(
      /larger than max|RESOURCE_EXHAUSTED/i,
    );
  });

  it("a replica starting on it connects and applies every answer, page by page", async () => {
    const r = createCachingResolver({
      upstream: new FakeUpstream(),
      replicaId: "paged",
      etcd: { endpoints: etcd.endpoints, prefix: PREFIX, opTimeoutMs: 5000 },
    });
    replica = r;
    await r.start();
    const s = r.status();
    expect(s.etcd).toBe("connected");
    expect(s.etcdTier?.applied).toBe(KEYS);
    expect(s.mirror?.listPages).toBeGreaterThan(1);
    expect(s.etcdRejected).toEqual({});
  }, 60_000);

  it("computes etcd's prefix range end", () => {
    expect(prefixEnd(Buffer.from("/a/")).toString()).toBe("/a0");
    expect([...prefixEnd(Buffer.from([0x61, 0xff]))]).toEqual([0x62]);
  });
});
