/**
 * Delta xDS subscription edges a real client produces: `*` subscribe and unsubscribe beside named
 * subscriptions, asking again for a name already held, unsubscribe then subscribe, and a NACK of a
 * resource the client never ACKed. Each test runs on a server of its own, so a wildcard sees only its
 * own resources; "nothing else was sent" is checked with a barrier response, never a sleep.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { DeltaDiscoveryResponse } from "../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import type { ResourceStore } from "../../src/xds/resource-store.js";
import type { XdsServer } from "../../src/xds/server.js";
import { DeltaBarrier, node, putCla, type RecordingMetrics, startServer, T } from "./harness.js";
import { RawXdsClient } from "./raw-client.js";

const servers: XdsServer[] = [];
const clients: RawXdsClient<"delta">[] = [];
afterEach(async () => {
  for (const c of clients.splice(0)) c.close();
  await Promise.all(servers.splice(0).map((s) => s.shutdown(500)));
});

async function fresh(): Promise<{
  store: ResourceStore;
  c: RawXdsClient<"delta">;
  barrier: DeltaBarrier;
  metrics: RecordingMetrics;
}> {
  const { store, server, port, metrics } = await startServer();
  servers.push(server);
  const c = new RawXdsClient("delta", port);
  clients.push(c);
  return { store, c, barrier: new DeltaBarrier(store, c), metrics };
}

const versions = (r: DeltaDiscoveryResponse) => r.resources.map((x) => [x.name, x.version]);
const ack = (c: RawXdsClient<"delta">, r: DeltaDiscoveryResponse) =>
  c.send({ typeUrl: r.typeUrl, responseNonce: r.nonce });

describe("Delta subscriptions", () => {
  it("'*' beside a named subscription adds every other resource; '*' unsubscribed keeps only the named", async () => {
    const { store, c, barrier } = await fresh();
    const a1 = putCla(store, "w-a", "10.0.0.1");
    const b1 = putCla(store, "w-b", "10.0.0.1");
    c.send({ node: node("dw1"), typeUrl: T.endpoint, resourceNamesSubscribe: ["w-a"] });
    const r1 = await c.next();
    expect(versions(r1)).toEqual([["w-a", a1]]);
    ack(c, r1);

    c.send({ typeUrl: T.endpoint, responseNonce: r1.nonce, resourceNamesSubscribe: ["*"] });
    const r2 = await c.next();
    // w-a is already held at this version: only w-b comes.
    expect(versions(r2)).toEqual([["w-b", b1]]);
    ack(c, r2);
    const c1 = putCla(store, "w-c", "10.0.0.1");
    const r3 = await c.next();
    expect(versions(r3)).toEqual([["w-c", c1]]);
    ack(c, r3);

    c.send({ typeUrl: T.endpoint, responseNonce: r3.nonce, resourceNamesUnsubscribe: ["*"] });
    expect(await barrier.pass()).toEqual([]);
    putCla(store, "w-b", "10.0.0.2");
    putCla(store, "w-d", "10.0.0.1");
    expect(await barrier.pass()).toEqual([]);
    const a2 = putCla(store, "w-a", "10.0.0.2");
    expect(versions(await c.next())).toEqual([["w-a", a2]]);
  });

  it("asking again for a held name resends it unchanged; unsubscribe then subscribe sends it again", async () => {
    const { store, c, barrier } = await fresh();
    const v1 = putCla(store, "rs", "10.0.0.1");
    c.send({ node: node("dw2"), typeUrl: T.endpoint, resourceNamesSubscribe: ["rs"] });
    const r1 = await c.next();
    ack(c, r1);
    c.send({ typeUrl: T.endpoint, responseNonce: r1.nonce, resourceNamesSubscribe: ["rs"] });
    const r2 = await c.next();
    expect(versions(r2)).toEqual([["rs", v1]]);
    ack(c, r2);

    c.send({ typeUrl: T.endpoint, responseNonce: r2.nonce, resourceNamesUnsubscribe: ["rs"] });
    // The barrier's request follows the unsubscribe on the stream, so the server has applied it.
    expect(await barrier.pass()).toEqual([]);
    putCla(store, "rs", "10.0.0.2");
    expect(await barrier.pass()).toEqual([]);
    c.send({ typeUrl: T.endpoint, responseNonce: r2.nonce, resourceNamesSubscribe: ["rs"] });
    const r3 = await c.next();
    expect(versions(r3)).toEqual([["rs", store.get(T.endpoint, "rs")?.version]]);
  });

  it("a NACK of a never-ACKed resource: that version is never resent, not even when asked again; the next one is", async () => {
    const { store, c, barrier, metrics } = await fresh();
    putCla(store, "nk", "10.0.0.66");
    c.send({ node: node("dw3"), typeUrl: T.endpoint, resourceNamesSubscribe: ["nk"] });
    const bad = await c.next();
    c.send({
      typeUrl: T.endpoint,
      responseNonce: bad.nonce,
      errorDetail: { code: 3, message: "never acked" },
    });
    expect(await barrier.pass()).toEqual([]);
    expect(metrics.nacks).toEqual([{ typeUrl: T.endpoint, detail: "never acked" }]);
    c.send({ typeUrl: T.endpoint, responseNonce: bad.nonce, resourceNamesSubscribe: ["nk"] });
    expect(await barrier.pass()).toEqual([]);
    const v2 = putCla(store, "nk", "10.0.0.2");
    const good = await c.next();
    expect(versions(good)).toEqual([["nk", v2]]);
  });

  it("a NACKed resource unsubscribed and subscribed again is sent again: a new subscription starts afresh", async () => {
    const { store, c, barrier } = await fresh();
    const v1 = putCla(store, "nk2", "10.0.0.66");
    c.send({ node: node("dw4"), typeUrl: T.endpoint, resourceNamesSubscribe: ["nk2"] });
    const bad = await c.next();
    c.send({ typeUrl: T.endpoint, responseNonce: bad.nonce, errorDetail: { code: 3, message: "rejected" } });
    expect(await barrier.pass()).toEqual([]);
    c.send({ typeUrl: T.endpoint, responseNonce: bad.nonce, resourceNamesUnsubscribe: ["nk2"] });
    expect(await barrier.pass()).toEqual([]);
    c.send({ typeUrl: T.endpoint, responseNonce: bad.nonce, resourceNamesSubscribe: ["nk2"] });
    expect(versions(await c.next())).toEqual([["nk2", v1]]);
  });
});
