/**
 * Zone variants of an assignment on the wire: a change to one zone's variant alone reaches that zone's
 * clients and no one else (SotW and Delta), and a Delta client reconnecting with
 * `initial_resource_versions` is compared against the version of the variant it gets, not the default.
 */
import { afterEach, describe, expect, it } from "vitest";
import { clusterLoadAssignment } from "../../src/xds/resource-builders.js";
import type { ResourceStore } from "../../src/xds/resource-store.js";
import type { XdsServer } from "../../src/xds/server.js";
import { DeltaBarrier, node, SotwBarrier, startServer, T } from "./harness.js";
import { RawXdsClient, sotwNames, sotwResources } from "./raw-client.js";

const servers: XdsServer[] = [];
const clients: Array<RawXdsClient<"sotw"> | RawXdsClient<"delta">> = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.shutdown(500)));
});

async function server(): Promise<{ store: ResourceStore; port: number }> {
  const { store, server: srv, port } = await startServer();
  servers.push(srv);
  return { store, port };
}

/** Publishes CLA `name` with default hosts `base` and, for zone-b, hosts `zoneB`. */
function publish(store: ResourceStore, name: string, base: string, zoneB: string): void {
  const cla = (host: string) => clusterLoadAssignment(name, [{ endpoints: [{ address: host, port: 1 }] }]);
  store.publish({
    upsert: [{ typeUrl: T.endpoint, name, resource: cla(base), variants: new Map([["zone-b", cla(zoneB)]]) }],
  });
}

const sotw = (port: number) => {
  const c = new RawXdsClient("sotw", port);
  clients.push(c);
  return c;
};
const delta = (port: number) => {
  const c = new RawXdsClient("delta", port);
  clients.push(c);
  return c;
};

describe("zone variants", () => {
  it("SotW: a change to zone-b's variant alone is pushed to zone-b's client only", async () => {
    const { store, port } = await server();
    publish(store, "zv", "10.0.0.1", "10.0.0.2");
    const a = sotw(port);
    const b = sotw(port);
    a.send({ node: node("za", "zone-a"), typeUrl: T.endpoint, resourceNames: ["zv"] });
    b.send({ node: node("zb", "zone-b"), typeUrl: T.endpoint, resourceNames: ["zv"] });
    for (const c of [a, b]) {
      const r = await c.next();
      c.send({
        typeUrl: T.endpoint,
        resourceNames: ["zv"],
        versionInfo: r.versionInfo,
        responseNonce: r.nonce,
      });
    }
    const barrierA = new SotwBarrier(store, a);
    expect(await barrierA.pass()).toEqual([]);

    publish(store, "zv", "10.0.0.1", "10.0.0.3");
    const pushed = await b.next();
    expect(sotwNames(pushed)).toEqual(["zv"]);
    expect(JSON.stringify(sotwResources(pushed)[0]?.message)).toContain("10.0.0.3");
    expect(await barrierA.pass()).toEqual([]);
  });

  it("Delta: a change to zone-b's variant alone is pushed to zone-b's client only", async () => {
    const { store, port } = await server();
    publish(store, "zd", "10.0.0.1", "10.0.0.2");
    const a = delta(port);
    const b = delta(port);
    a.send({ node: node("da", "zone-a"), typeUrl: T.endpoint, resourceNamesSubscribe: ["zd"] });
    b.send({ node: node("db", "zone-b"), typeUrl: T.endpoint, resourceNamesSubscribe: ["zd"] });
    for (const c of [a, b]) {
      const r = await c.next();
      c.send({ typeUrl: T.endpoint, responseNonce: r.nonce });
    }
    const barrierA = new DeltaBarrier(store, a);
    expect(await barrierA.pass()).toEqual([]);

    publish(store, "zd", "10.0.0.1", "10.0.0.3");
    const pushed = await b.next();
    expect(pushed.resources.map((r) => [r.name, r.version])).toEqual([
      ["zd", store.getEncoded(T.endpoint, "zd", "zone-b")?.version],
    ]);
    expect(await barrierA.pass()).toEqual([]);
  });

  it("Delta initial_resource_versions: a zone's client is compared against its variant's version", async () => {
    const { store, port } = await server();
    publish(store, "iv", "10.0.0.1", "10.0.0.2");
    const base = store.getEncoded(T.endpoint, "iv")?.version ?? "";
    const variant = store.getEncoded(T.endpoint, "iv", "zone-b")?.version ?? "";
    expect(base).not.toBe(variant);

    const reconnect = async (zone: string, has: string) => {
      const c = delta(port);
      c.send({
        node: node(`iv-${zone}-${has === base ? "base" : "variant"}`, zone),
        typeUrl: T.endpoint,
        resourceNamesSubscribe: ["iv"],
        initialResourceVersions: { iv: has },
      });
      const barrier = new DeltaBarrier(store, c);
      const before = await barrier.pass();
      return before.flatMap((r) => r.resources.map((x) => x.version));
    };
    // zone-b already holding its variant gets nothing; holding the default, it gets the variant.
    expect(await reconnect("zone-b", variant)).toEqual([]);
    expect(await reconnect("zone-b", base)).toEqual([variant]);
    // Any other zone is the other way round.
    expect(await reconnect("zone-a", base)).toEqual([]);
    expect(await reconnect("zone-a", variant)).toEqual([base]);
  });
});
