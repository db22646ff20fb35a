import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DiscoveryResponse } from "../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import {
  clusterLoadAssignment,
  edsCluster,
  grpcApiListener,
  routeToCluster,
} from "../../src/xds/resource-builders.js";
import type { ResourceStore } from "../../src/xds/resource-store.js";
import type { XdsServer } from "../../src/xds/server.js";
import { until } from "../support/wait-for.js";
import { node, putCla, putCluster, type RecordingMetrics, SotwBarrier, startServer, T } from "./harness.js";
import { RawXdsClient, sotwNames, sotwResources } from "./raw-client.js";

let store: ResourceStore;
let server: XdsServer;
let port: number;
let metrics: RecordingMetrics;
const clients: RawXdsClient<"sotw">[] = [];

beforeAll(async () => {
  ({ store, server, port, metrics } = await startServer());
});
afterAll(async () => {
  await server.shutdown(1000);
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

function open(): { c: RawXdsClient<"sotw">; barrier: SotwBarrier } {
  const c = new RawXdsClient("sotw", port);
  clients.push(c);
  return { c, barrier: new SotwBarrier(store, c) };
}

const ack = (c: RawXdsClient<"sotw">, r: DiscoveryResponse, names: string[]) =>
  c.send({ typeUrl: r.typeUrl, resourceNames: names, versionInfo: r.versionInfo, responseNonce: r.nonce });

describe("SotW ADS", () => {
  it("sends requested EDS names, then only changes; ACKed content is not resent", async () => {
    putCla(store, "s1-a", "10.0.0.1");
    const { c, barrier } = open();
    c.send({ node: node("n1"), typeUrl: T.endpoint, resourceNames: ["s1-a"] });
    const r1 = await c.next();
    expect(r1.typeUrl).toBe(T.endpoint);
    expect(sotwNames(r1)).toEqual(["s1-a"]);
    expect(r1.versionInfo).not.toBe("");
    expect(r1.nonce).not.toBe("");
    ack(c, r1, ["s1-a"]);
    expect(await barrier.pass()).toEqual([]);
    putCla(store, "s1-a", "10.0.0.2");
    const r2 = await c.next();
    expect(sotwNames(r2)).toEqual(["s1-a"]);
    expect(r2.nonce).not.toBe(r1.nonce);
    expect(r2.versionInfo).not.toBe(r1.versionInfo);
    expect(server.nodes().some((n) => n.node?.id === "n1" && n.node.locality?.region === "r1")).toBe(true);
  });

  it("NACK: keeps quiet about the rejected content, resends only when the content changes", async () => {
    putCla(store, "s2-a", "10.0.0.1");
    const { c, barrier } = open();
    c.send({ node: node("n2"), typeUrl: T.endpoint, resourceNames: ["s2-a"] });
    const r1 = await c.next();
    ack(c, r1, ["s2-a"]);
    putCla(store, "s2-a", "10.0.0.66");
    const bad = await c.next();
    const nacksBefore = metrics.nacks.length;
    c.send({
      typeUrl: T.endpoint,
      resourceNames: ["s2-a"],
      versionInfo: r1.versionInfo,
      responseNonce: bad.nonce,
      errorDetail: { code: 3, message: "rejected for the test" },
    });
    expect(await barrier.pass()).toEqual([]);
    expect(metrics.nacks.length).toBe(nacksBefore + 1);
    expect(metrics.nacks.at(-1)).toEqual({ typeUrl: T.endpoint, detail: "rejected for the test" });
    // The same request again (as a client retrying) still does not get the rejected content back.
    c.send({
      typeUrl: T.endpoint,
      resourceNames: ["s2-a"],
      versionInfo: r1.versionInfo,
      responseNonce: bad.nonce,
    });
    expect(await barrier.pass()).toEqual([]);
    putCla(store, "s2-a", "10.0.0.3");
    const good = await c.next();
    expect(sotwNames(good)).toEqual(["s2-a"]);
    expect(JSON.stringify(sotwResources(good)[0]?.message)).toContain("10.0.0.3");
  });

  it("a NACKed resource dropped and requested again is sent again: unsubscribing forgets what the client said of it", async () => {
    putCla(store, "s2b-a", "10.0.0.1");
    const { c, barrier } = open();
    c.send({ node: node("n2b"), typeUrl: T.endpoint, resourceNames: ["s2b-a"] });
    const bad = await c.next();
    c.send({
      typeUrl: T.endpoint,
      resourceNames: ["s2b-a"],
      responseNonce: bad.nonce,
      errorDetail: { code: 3, message: "rejected for the test" },
    });
    expect(await barrier.pass()).toEqual([]);
    // The client drops the resource (Envoy removing the cluster), then asks for it again: a new
    // subscription, answered as the first one was, so the client (and CSDS) hear of it again.
    c.send({ typeUrl: T.endpoint, resourceNames: [], responseNonce: bad.nonce });
    expect(await barrier.pass()).toEqual([]);
    c.send({ typeUrl: T.endpoint, resourceNames: ["s2b-a"], responseNonce: bad.nonce });
    const again = await c.next();
    expect(sotwNames(again)).toEqual(["s2b-a"]);
    expect(again.nonce).not.toBe(bad.nonce);
  });

  it("an ACK that repeats one name and leaves another out unsubscribes the one left out", async () => {
    putCla(store, "s9-a", "10.0.0.1");
    putCla(store, "s9-b", "10.0.0.2");
    const { c, barrier } = open();
    c.send({ node: node("n9"), typeUrl: T.endpoint, resourceNames: ["s9-a", "s9-b"] });
    const r1 = await c.next();
    expect(sotwNames(r1).sort()).toEqual(["s9-a", "s9-b"]);
    // As many names as before, all of them known, but not the same set: s9-b is gone.
    ack(c, r1, ["s9-a", "s9-a"]);
    expect(await barrier.pass()).toEqual([]);
    putCla(store, "s9-b", "10.0.0.3");
    expect(await barrier.pass()).toEqual([]);
    putCla(store, "s9-a", "10.0.0.4");
    const r2 = await c.next();
    expect(sotwNames(r2)).toEqual(["s9-a"]);
  });

  it("a request naming again what an earlier one named is applied, though the last one named less", async () => {
    putCla(store, "s9c-a", "10.0.0.1");
    putCla(store, "s9c-b", "10.0.0.2");
    const { c, barrier } = open();
    c.send({ node: node("n9c"), typeUrl: T.endpoint, resourceNames: ["s9c-a", "s9c-b"] });
    const r1 = await c.next();
    ack(c, r1, ["s9c-a", "s9c-b"]);
    expect(await barrier.pass()).toEqual([]);
    ack(c, r1, ["s9c-a"]);
    expect(await barrier.pass()).toEqual([]);
    // The same bytes as the first request and its ACK, but not as the last request: s9c-b is
    // subscribed again, so it is sent again.
    ack(c, r1, ["s9c-a", "s9c-b"]);
    expect(sotwNames(await c.next())).toEqual(["s9c-b"]);
  });

  it("ignores requests with a stale nonce", async () => {
    putCla(store, "s3-a", "10.0.0.1");
    putCla(store, "s3-b", "10.0.0.1");
    const { c, barrier } = open();
    c.send({ node: node("n3"), typeUrl: T.endpoint, resourceNames: ["s3-a"] });
    const r1 = await c.next();
    ack(c, r1, ["s3-a"]);
    putCla(store, "s3-a", "10.0.0.2");
    const r2 = await c.next();
    // A request echoing the older nonce asks for s3-b: stale, so nothing happens.
    c.send({
      typeUrl: T.endpoint,
      resourceNames: ["s3-a", "s3-b"],
      versionInfo: r1.versionInfo,
      responseNonce: r1.nonce,
    });
    expect(await barrier.pass()).toEqual([]);
    c.send({
      typeUrl: T.endpoint,
      resourceNames: ["s3-a", "s3-b"],
      versionInfo: r2.versionInfo,
      responseNonce: r2.nonce,
    });
    expect(sotwNames(await c.next())).toEqual(["s3-b"]);
  });

  it("newly requested names are sent even if unchanged; unknown names are pushed when they appear; unsubscribe stops pushes", async () => {
    putCla(store, "s4-a", "10.0.0.1");
    const { c, barrier } = open();
    c.send({ node: node("n4"), typeUrl: T.endpoint, resourceNames: ["s4-a", "s4-later"] });
    const r1 = await c.next();
    expect(sotwNames(r1)).toEqual(["s4-a"]);
    ack(c, r1, ["s4-a", "s4-later"]);
    expect(await barrier.pass()).toEqual([]);
    putCla(store, "s4-later", "10.0.0.7");
    const r2 = await c.next();
    expect(sotwNames(r2)).toEqual(["s4-later"]);
    // Unsubscribe s4-a, then ask for it again: it comes back although it did not change.
    ack(c, r2, ["s4-later"]);
    expect(await barrier.pass()).toEqual([]);
    putCla(store, "s4-a", "10.0.0.9");
    expect(await barrier.pass()).toEqual([]);
    c.send({
      typeUrl: T.endpoint,
      resourceNames: ["s4-later", "s4-a"],
      versionInfo: r2.versionInfo,
      responseNonce: r2.nonce,
    });
    const r3 = await c.next();
    expect(sotwNames(r3)).toEqual(["s4-a"]);
  });

  it("CDS wildcard carries the full set; removals come after upserts; a changed Cluster resends its CLA", async () => {
    const { store: s2, server: srv, port: p2 } = await startServer();
    try {
      putCluster(s2, "c1");
      putCluster(s2, "c2");
      const c = new RawXdsClient("sotw", p2);
      clients.push(c);
      c.send({ node: node("n5"), typeUrl: T.cluster, resourceNames: [] });
      const r1 = await c.next();
      expect(sotwNames(r1)).toEqual(["c1", "c2"]);
      ack(c, r1, []);
      c.send({ typeUrl: T.endpoint, resourceNames: ["c1"] });
      const e1 = await c.next();
      expect(sotwNames(e1)).toEqual(["c1"]);
      ack(c, e1, ["c1"]);
      // Change Cluster c1 only: CDS full set, then the unchanged CLA again.
      s2.publish({
        upsert: [{ typeUrl: T.cluster, name: "c1", resource: edsCluster("c1", { connectTimeoutMs: 2500 }) }],
      });
      const r2 = await c.next();
      expect(r2.typeUrl).toBe(T.cluster);
      expect(sotwNames(r2)).toEqual(["c1", "c2"]);
      ack(c, r2, []);
      const e2 = await c.next();
      expect(e2.typeUrl).toBe(T.endpoint);
      expect(sotwNames(e2)).toEqual(["c1"]);
      ack(c, e2, ["c1"]);
      // One batch: remove c2 (cluster) and update CLA c1. Upserts first (EDS), removal (CDS) last.
      s2.publish({
        remove: [{ typeUrl: T.cluster, name: "c2" }],
        upsert: [
          {
            typeUrl: T.endpoint,
            name: "c1",
            resource: clusterLoadAssignment("c1", [{ endpoints: [{ address: "10.1.1.1", port: 1 }] }]),
          },
        ],
      });
      const a = await c.next();
      const b = await c.next();
      expect(a.typeUrl).toBe(T.endpoint);
      expect(b.typeUrl).toBe(T.cluster);
      expect(sotwNames(b)).toEqual(["c1"]);
    } finally {
      await srv.shutdown(500);
    }
  });

  it("pushes in CDS → EDS → LDS → RDS order", async () => {
    const { store: s2, server: srv, port: p2 } = await startServer();
    try {
      const c = new RawXdsClient("sotw", p2);
      clients.push(c);
      s2.publish({ upsert: [{ typeUrl: T.route, name: "o-bar", resource: routeToCluster("o-bar", "x") }] });
      c.send({ node: node("n6"), typeUrl: T.listener, resourceNames: ["o-l"] });
      c.send({ typeUrl: T.endpoint, resourceNames: ["o-c"] });
      c.send({ typeUrl: T.cluster, resourceNames: ["o-c"] });
      // Nothing else exists yet; the answer for o-bar proves the server has seen all four requests.
      c.send({ typeUrl: T.route, resourceNames: ["o-r", "o-bar"] });
      expect(sotwNames(await c.next())).toEqual(["o-bar"]);
      s2.publish({
        upsert: [
          { typeUrl: T.route, name: "o-r", resource: routeToCluster("o-r", "o-c") },
          { typeUrl: T.listener, name: "o-l", resource: grpcApiListener("o-l", "o-r") },
          {
            typeUrl: T.endpoint,
            name: "o-c",
            resource: clusterLoadAssignment("o-c", [{ endpoints: [{ address: "10.0.0.1", port: 1 }] }]),
          },
          { typeUrl: T.cluster, name: "o-c", resource: edsCluster("o-c") },
        ],
      });
      const order: string[] = [];
      for (let i = 0; i < 4; i++) order.push((await c.next()).typeUrl);
      expect(order).toEqual([T.cluster, T.endpoint, T.listener, T.route]);
    } finally {
      await srv.shutdown(500);
    }
  });

  it("gives a zone its variant and others the default", async () => {
    store.publish({
      upsert: [
        {
          typeUrl: T.endpoint,
          name: "s7",
          resource: clusterLoadAssignment("s7", [{ endpoints: [{ address: "10.0.0.1", port: 1 }] }]),
          variants: new Map([
            ["zone-b", clusterLoadAssignment("s7", [{ endpoints: [{ address: "10.0.0.2", port: 1 }] }])],
          ]),
        },
      ],
    });
    const { c: ca } = open();
    const { c: cb } = open();
    ca.send({ node: node("na", "zone-a"), typeUrl: T.endpoint, resourceNames: ["s7"] });
    cb.send({ node: node("nb", "zone-b"), typeUrl: T.endpoint, resourceNames: ["s7"] });
    expect(JSON.stringify(sotwResources(await ca.next())[0]?.message)).toContain("10.0.0.1");
    expect(JSON.stringify(sotwResources(await cb.next())[0]?.message)).toContain("10.0.0.2");
  });

  it("a reconnecting client's first request carrying an old nonce is served, not treated as stale", async () => {
    putCla(store, "s9", "10.0.0.1");
    const { c } = open();
    c.send({
      node: node("n9"),
      typeUrl: T.endpoint,
      resourceNames: ["s9"],
      versionInfo: "old",
      responseNonce: "zz-old",
    });
    expect(sotwNames(await c.next())).toEqual(["s9"]);
  });

  it("streams that get the same content in the same generation share one response (same nonce and bytes)", async () => {
    putCla(store, "s10", "10.0.0.1");
    const { c: a } = open();
    const { c: b } = open();
    a.send({ node: node("n10a"), typeUrl: T.endpoint, resourceNames: ["s10"] });
    b.send({ node: node("n10b"), typeUrl: T.endpoint, resourceNames: ["s10"] });
    const ra = await a.next();
    const rb = await b.next();
    ack(a, ra, ["s10"]);
    ack(b, rb, ["s10"]);
    putCla(store, "s10", "10.0.0.2");
    const [xa, xb] = [await a.next(), await b.next()];
    expect(xa.nonce).toBe(xb.nonce);
    expect(xa.versionInfo).toBe(xb.versionInfo);
    expect(sotwNames(xa)).toEqual(["s10"]);
  });

  it("ignores requests for unsupported types and keeps the stream", async () => {
    const { c, barrier } = open();
    c.send({
      node: node("n11"),
      typeUrl: "type.googleapis.com/envoy.extensions.transport_sockets.tls.v3.Secret",
      resourceNames: ["s"],
    });
    expect(await barrier.pass()).toEqual([]);
    expect(c.ended).toBeUndefined();
  });

  it("a cancelled stream is forgotten: no longer counted or watched", async () => {
    const { store: s2, server: srv, port: p2, metrics: m2 } = await startServer();
    // Each stream's store watch, seen from the store's side: the store calls watchers synchronously
    // in publish(), so "still watched" shows at once, with no wait.
    const calls: number[] = [];
    const storeWatch = s2.watch.bind(s2);
    s2.watch = (onChange) => {
      const i = calls.push(0) - 1;
      return storeWatch((changes) => {
        calls[i] = (calls[i] ?? 0) + 1;
        onChange(changes);
      });
    };
    try {
      putCla(s2, "s12", "10.0.0.1");
      const c = new RawXdsClient("sotw", p2);
      c.send({ node: node("n12"), typeUrl: T.endpoint, resourceNames: ["s12"] });
      await c.next();
      expect(srv.streamCount()).toBe(1);
      putCla(s2, "s12", "10.0.0.3");
      expect(calls).toEqual([1]);
      await c.next();
      c.close();
      await until(() => srv.streamCount() === 0, 5000, "the server to drop the cancelled stream");
      expect(m2.closed).toBe(m2.opened);
      const pushes = m2.pushes.length;
      putCla(s2, "s12", "10.0.0.2");
      expect(calls).toEqual([1]);
      expect(m2.pushes.length).toBe(pushes);
    } finally {
      await srv.shutdown(500);
    }
  });

  it("per-type service: StreamEndpoints works with an empty type_url", async () => {
    putCla(store, "s8", "10.0.0.1");
    const c = new RawXdsClient(
      "sotw",
      port,
      "/envoy.service.endpoint.v3.EndpointDiscoveryService/StreamEndpoints",
    );
    clients.push(c);
    c.send({ node: node("n8"), resourceNames: ["s8"] });
    const r = await c.next();
    expect(r.typeUrl).toBe(T.endpoint);
    expect(sotwNames(r)).toEqual(["s8"]);
  });
});
