import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DeltaDiscoveryResponse } from "../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { edsCluster } from "../../src/xds/resource-builders.js";
import type { ResourceStore } from "../../src/xds/resource-store.js";
import type { XdsServer } from "../../src/xds/server.js";
import { DeltaBarrier, node, putCla, putCluster, type RecordingMetrics, startServer, T } from "./harness.js";
import { RawXdsClient } from "./raw-client.js";

let store: ResourceStore;
let server: XdsServer;
let port: number;
let metrics: RecordingMetrics;
const clients: RawXdsClient<"delta">[] = [];

beforeAll(async () => {
  ({ store, server, port, metrics } = await startServer());
});
afterAll(async () => {
  await server.shutdown(1000);
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

function open(): { c: RawXdsClient<"delta">; barrier: DeltaBarrier } {
  const c = new RawXdsClient("delta", port);
  clients.push(c);
  return { c, barrier: new DeltaBarrier(store, c) };
}

const names = (r: DeltaDiscoveryResponse) => r.resources.map((x) => x.name).sort();
const ack = (c: RawXdsClient<"delta">, r: DeltaDiscoveryResponse) =>
  c.send({ typeUrl: r.typeUrl, responseNonce: r.nonce });

describe("Delta ADS", () => {
  it("sends subscribed resources with their versions, then only changes", async () => {
    const v1 = putCla(store, "d1", "10.0.0.1");
    const { c, barrier } = open();
    c.send({ node: node("dn1"), typeUrl: T.endpoint, resourceNamesSubscribe: ["d1"] });
    const r1 = await c.next();
    expect(r1.typeUrl).toBe(T.endpoint);
    expect(r1.resources.map((x) => [x.name, x.version])).toEqual([["d1", v1]]);
    expect(r1.resources[0]?.resource?.typeUrl).toBe(T.endpoint);
    ack(c, r1);
    expect(await barrier.pass()).toEqual([]);
    const v2 = putCla(store, "d1", "10.0.0.2");
    const r2 = await c.next();
    expect(r2.resources.map((x) => [x.name, x.version])).toEqual([["d1", v2]]);
  });

  it("reports unknown names in removed_resources and pushes them when they appear", async () => {
    const { c } = open();
    c.send({ node: node("dn2"), typeUrl: T.endpoint, resourceNamesSubscribe: ["d2-later"] });
    const r1 = await c.next();
    expect(r1.resources).toEqual([]);
    expect(r1.removedResources).toEqual(["d2-later"]);
    ack(c, r1);
    putCla(store, "d2-later", "10.0.0.1");
    const r2 = await c.next();
    expect(names(r2)).toEqual(["d2-later"]);
    ack(c, r2);
    store.publish({ remove: [{ typeUrl: T.endpoint, name: "d2-later" }] });
    const r3 = await c.next();
    expect(r3.removedResources).toEqual(["d2-later"]);
  });

  it("initial_resource_versions: a reconnecting client gets only what differs", async () => {
    const va = putCla(store, "d3-a", "10.0.0.1");
    putCla(store, "d3-b", "10.0.0.1");
    const { c } = open();
    c.send({
      node: node("dn3"),
      typeUrl: T.endpoint,
      resourceNamesSubscribe: ["d3-a", "d3-b"],
      initialResourceVersions: { "d3-a": va, "d3-b": "0000000000000000" },
    });
    const r = await c.next();
    expect(names(r)).toEqual(["d3-b"]);
  });

  it("initial_resource_versions: a wildcard client learns of resources deleted while it was away", async () => {
    const { store: s2, server: srv, port: p2 } = await startServer();
    try {
      putCluster(s2, "keep");
      const c = new RawXdsClient("delta", p2);
      clients.push(c);
      const keep = s2.get(T.cluster, "keep")?.version ?? "";
      c.send({
        node: node("dn8"),
        typeUrl: T.cluster,
        initialResourceVersions: { keep, gone: "0123456789abcdef" },
      });
      const r = await c.next();
      expect(r.resources).toEqual([]);
      expect(r.removedResources).toEqual(["gone"]);
    } finally {
      await srv.shutdown(500);
    }
  });

  it("NACK: rejected version is not resent; a new version is", async () => {
    putCla(store, "d4", "10.0.0.1");
    const { c, barrier } = open();
    c.send({ node: node("dn4"), typeUrl: T.endpoint, resourceNamesSubscribe: ["d4"] });
    ack(c, await c.next());
    expect(await barrier.pass()).toEqual([]);
    putCla(store, "d4", "10.0.0.66");
    const bad = await c.next();
    const before = metrics.nacks.length;
    c.send({ typeUrl: T.endpoint, responseNonce: bad.nonce, errorDetail: { code: 3, message: "nope" } });
    expect(await barrier.pass()).toEqual([]);
    expect(metrics.nacks.length).toBe(before + 1);
    const v3 = putCla(store, "d4", "10.0.0.3");
    const good = await c.next();
    expect(good.resources.map((x) => x.version)).toEqual([v3]);
  });

  it("applies subscription changes even with a stale nonce; unsubscribe stops pushes", async () => {
    putCla(store, "d5-a", "10.0.0.1");
    putCla(store, "d5-b", "10.0.0.1");
    const { c, barrier } = open();
    c.send({ node: node("dn5"), typeUrl: T.endpoint, resourceNamesSubscribe: ["d5-a"] });
    const r1 = await c.next();
    ack(c, r1);
    expect(await barrier.pass()).toEqual([]);
    putCla(store, "d5-a", "10.0.0.2");
    await c.next();
    c.send({
      typeUrl: T.endpoint,
      responseNonce: r1.nonce,
      resourceNamesSubscribe: ["d5-b"],
      resourceNamesUnsubscribe: ["d5-a"],
    });
    expect(names(await c.next())).toEqual(["d5-b"]);
    putCla(store, "d5-a", "10.0.0.3");
    expect(await barrier.pass()).toEqual([]);
  });

  it("wildcard CDS: all clusters, additions, and removals via removed_resources; Cluster change resends its CLA", async () => {
    const { store: s2, server: srv, port: p2 } = await startServer();
    try {
      putCluster(s2, "dc1");
      const c = new RawXdsClient("delta", p2);
      clients.push(c);
      c.send({ node: node("dn6"), typeUrl: T.cluster });
      const r1 = await c.next();
      expect(names(r1)).toEqual(["dc1"]);
      ack(c, r1);
      c.send({ typeUrl: T.endpoint, resourceNamesSubscribe: ["dc1"] });
      ack(c, await c.next());
      putCluster(s2, "dc2");
      const r2 = await c.next();
      expect(names(r2)).toEqual(["dc2"]);
      ack(c, r2);
      s2.publish({
        upsert: [
          { typeUrl: T.cluster, name: "dc1", resource: edsCluster("dc1", { connectTimeoutMs: 3000 }) },
        ],
      });
      const r3 = await c.next();
      expect([r3.typeUrl, names(r3)]).toEqual([T.cluster, ["dc1"]]);
      ack(c, r3);
      const r4 = await c.next();
      expect([r4.typeUrl, names(r4)]).toEqual([T.endpoint, ["dc1"]]);
      ack(c, r4);
      s2.publish({ remove: [{ typeUrl: T.cluster, name: "dc2" }] });
      const r5 = await c.next();
      expect(r5.removedResources).toEqual(["dc2"]);
    } finally {
      await srv.shutdown(500);
    }
  });

  it("per-type Delta service: DeltaClusters", async () => {
    putCluster(store, "d7");
    const c = new RawXdsClient(
      "delta",
      port,
      "/envoy.service.cluster.v3.ClusterDiscoveryService/DeltaClusters",
    );
    clients.push(c);
    c.send({ node: node("dn7"), resourceNamesSubscribe: ["d7"] });
    const r = await c.next();
    expect(r.typeUrl).toBe(T.cluster);
    expect(names(r)).toEqual(["d7"]);
  });
});
