/**
 * Shard ownership when a replica's etcd watch reconnects: the re-list it gets may be the first news of a
 * changed fleet, and the shards must then move without waiting for some later event. The 30-minute
 * soak saw the opposite: after a pause, replica A held all 64 shards while B was a live member again,
 * until an unrelated member put made A look again. Real etcd, the real mirror and ownership; only the
 * timing of A's reconnect is held by the test (the re-list waits for B, the watch takes 200 ms to
 * open, as on a loaded box), so the case happens on every run.
 */
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EtcdMirror } from "../../src/cache/etcd-mirror.js";
import { EtcdNameOwnership } from "../../src/cache/name-ownership.js";
import { type EtcdServer, startEtcd } from "../support/etcd-server.js";
import { until } from "../support/wait-for.js";

const SHARDS = 16;
let etcd: EtcdServer;
const closers: Array<() => Promise<void>> = [];

beforeAll(async () => {
  etcd = await startEtcd();
});
afterAll(async () => {
  for (const c of closers.reverse()) await c().catch(() => undefined);
  await etcd?.close();
});

async function replica(prefix: string, id: string) {
  const client = new Etcd3({ hosts: etcd.endpoints });
  const mirror = new EtcdMirror({ client, prefix, backoffBaseMs: 20, backoffMaxMs: 200, random: () => 0 });
  const ownership = new EtcdNameOwnership({ mirror, replicaId: id, shards: SHARDS, sessionTtlSeconds: 2 });
  closers.push(async () => {
    await ownership.close();
    await mirror.close();
    client.close();
  });
  await mirror.start();
  await ownership.start();
  return { mirror, ownership };
}

describe("shard ownership across a watch reconnect", () => {
  it("gives a rejoined member its shards when the re-list is the first news of it", async () => {
    const prefix = "/rejoin-1/";
    const a = await replica(prefix, "a");
    await until(
      () => a.ownership.status().ownedShards.length === SHARDS,
      10_000,
      "A alone to own every shard",
    );

    // A loses its watch. Its re-list waits until B has joined; its new watch then takes 200 ms to open,
    // longer than the ownership's 20 ms coalescing of the re-list's snapshot.
    const internals = a.mirror as unknown as {
      lister: { list: (root: string) => Promise<unknown> };
      watchFrom: (rev: number) => Promise<void>;
    };
    let release = (): void => undefined;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const list = internals.lister.list.bind(internals.lister);
    internals.lister.list = async (root) => {
      await gate;
      return list(root);
    };
    const watchFrom = internals.watchFrom.bind(a.mirror);
    internals.watchFrom = async (rev) => {
      await new Promise((r) => setTimeout(r, 200));
      return watchFrom(rev);
    };
    a.mirror.reportFailure(new Error("test: A's watch dropped"));

    const b = await replica(prefix, "b");
    await until(() => b.ownership.status().members.length === 2, 10_000, "B to see both members");
    // B claims nothing while A holds every shard: only A can hand them over.
    expect(b.ownership.status().ownedShards).toEqual([]);
    release();

    await until(() => a.mirror.state() === "connected", 10_000, "A's mirror to reconnect");
    await until(
      () => a.ownership.status().balanced && b.ownership.status().balanced,
      5_000,
      "both replicas to see the shards where rendezvous hashing puts them",
    );
    const owned = [a, b].map((r) => r.ownership.status().ownedShards.length);
    expect(owned[0]).toBeGreaterThan(0);
    expect(owned[1]).toBeGreaterThan(0);
    expect((owned[0] ?? 0) + (owned[1] ?? 0)).toBe(SHARDS);
  });
});
