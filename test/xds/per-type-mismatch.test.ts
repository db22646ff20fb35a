/**
 * A per-type xDS service (EDS, CDS, ...) asked for another type: the request is ignored (nothing of the
 * other type is sent, no state is made for it) and the stream stays open and keeps serving its own type.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResourceStore } from "../../src/xds/resource-store.js";
import type { XdsServer } from "../../src/xds/server.js";
import { node, putCla, putCluster, startServer, T } from "./harness.js";
import { RawXdsClient, sotwNames } from "./raw-client.js";

let store: ResourceStore;
let server: XdsServer;
let port: number;
const clients: Array<RawXdsClient<"sotw"> | RawXdsClient<"delta">> = [];

beforeAll(async () => {
  ({ store, server, port } = await startServer());
  putCla(store, "pt-eds", "10.0.0.1");
  putCluster(store, "pt-cds");
});
afterAll(async () => {
  for (const c of clients) c.close();
  await server.shutdown(500);
});

describe("per-type service with a mismatched type URL", () => {
  it("SotW StreamEndpoints asked for Clusters: ignored; the stream then serves its endpoints", async () => {
    const c = new RawXdsClient(
      "sotw",
      port,
      "/envoy.service.endpoint.v3.EndpointDiscoveryService/StreamEndpoints",
    );
    clients.push(c);
    c.send({ node: node("pt1"), typeUrl: T.cluster, resourceNames: ["pt-cds"] });
    // Requests on one stream are handled in order: the answer to the next one is the first response.
    c.send({ typeUrl: T.endpoint, resourceNames: ["pt-eds"] });
    const r = await c.next();
    expect([r.typeUrl, sotwNames(r)]).toEqual([T.endpoint, ["pt-eds"]]);
    expect(c.responses).toHaveLength(0);
    expect(c.ended).toBeUndefined();
  });

  it("Delta DeltaClusters asked for endpoints: ignored; the stream then serves its clusters", async () => {
    const c = new RawXdsClient(
      "delta",
      port,
      "/envoy.service.cluster.v3.ClusterDiscoveryService/DeltaClusters",
    );
    clients.push(c);
    c.send({ node: node("pt2"), typeUrl: T.endpoint, resourceNamesSubscribe: ["pt-eds"] });
    c.send({ typeUrl: T.cluster, resourceNamesSubscribe: ["pt-cds"] });
    const r = await c.next();
    expect([r.typeUrl, r.resources.map((x) => x.name)]).toEqual([T.cluster, ["pt-cds"]]);
    expect(c.responses).toHaveLength(0);
    expect(c.ended).toBeUndefined();
  });
});
