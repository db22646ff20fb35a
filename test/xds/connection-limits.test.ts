/**
 * The transport-level limits of the xDS port, through real grpc-js clients on loopback: streams per
 * HTTP/2 connection, keepalive (a hung peer is dropped, a live one is not), connection age (clients are
 * moved to a new connection, each connection at its own jittered time), the response size limit, the
 * rule that answering our responses is never rate-limited, and limits changed while running.
 */
import { connect as h2connect } from "node:http2";
import { connect, type Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { TcpProxy } from "../support/tcp-proxy.js";
import { until } from "../support/wait-for.js";
import { node, putCla, startServer, T } from "./harness.js";
import { RawXdsClient } from "./raw-client.js";

const own = { channelOptions: { "grpc.use_local_subchannel_pool": 1 } };
const cleanup: Array<() => unknown> = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

function later<
  T extends { close(): void } | { stop(): Promise<void> } | { shutdown(ms: number): Promise<void> },
>(x: T): T {
  cleanup.push(async () => {
    if ("close" in x) x.close();
    else if ("stop" in x) await x.stop();
    else await x.shutdown(500);
  });
  return x;
}

/** `n` distinct IPv4 addresses. */
const manyHosts = (n: number) =>
  Array.from({ length: n }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`);

describe("xDS transport limits", () => {
  it("advertises maxStreamsPerConnection in its HTTP/2 SETTINGS and serves one more stream only when one ends", async () => {
    const { store, server, port, metrics } = await startServer({ limits: { maxStreamsPerConnection: 5 } });
    later(server);
    putCla(store, "c", "10.0.0.1");

    const raw = h2connect(`http://127.0.0.1:${port}`);
    later({ close: () => raw.close() });
    const settings = await new Promise<number | undefined>((resolve) =>
      raw.once("remoteSettings", (s) => resolve(s.maxConcurrentStreams)),
    );
    expect(settings).toBe(5);

    // grpc-js shares one connection between these clients (its global subchannel pool).
    const cs = Array.from({ length: 6 }, () => later(new RawXdsClient("sotw", port)));
    const first = cs.slice(0, 5);
    for (const c of first) c.send({ node: node("n"), typeUrl: T.endpoint, resourceNames: ["c"] });
    const answers = await Promise.all(first.map((c) => c.next()));
    expect(server.connectionCount()).toBe(2); // the grpc-js channel + the raw HTTP/2 session above
    const sixth = cs[5] as RawXdsClient<"sotw">;
    sixth.send({ node: node("n"), typeUrl: T.endpoint, resourceNames: ["c"] });
    // A request on stream 1 after the sixth was sent: had the server accepted the sixth stream, it would
    // have opened it before reading this (one TCP connection keeps the order).
    const a0 = answers[0];
    putCla(store, "c2", "10.0.0.2");
    first[0]?.send({ typeUrl: T.endpoint, resourceNames: ["c", "c2"], responseNonce: a0?.nonce });
    await first[0]?.next();
    expect(metrics.opened).toBe(5);
    expect(sixth.responses).toHaveLength(0);
    first[1]?.close();
    const r = await sixth.next();
    expect(r.resources).toHaveLength(1);
    expect(metrics.opened).toBe(6);
  });

  it("keepalive: a live idle client keeps its stream; a hung one is dropped after keepaliveMs + keepaliveTimeoutMs", async () => {
    const { store, server, port } = await startServer({
      limits: { keepaliveMs: 200, keepaliveTimeoutMs: 300 },
    });
    later(server);
    putCla(store, "k", "10.0.0.1");
    const live = later(new TcpProxy(port));
    const hung = later(new TcpProxy(port));
    const a = later(new RawXdsClient("sotw", await live.start(), undefined, own));
    const b = later(new RawXdsClient("sotw", await hung.start(), undefined, own));
    for (const c of [a, b]) c.send({ node: node("k"), typeUrl: T.endpoint, resourceNames: ["k"] });
    const ra = await a.next();
    await b.next();
    a.send({
      typeUrl: T.endpoint,
      resourceNames: ["k"],
      responseNonce: ra.nonce,
      versionInfo: ra.versionInfo,
    });
    expect(server.connectionCount()).toBe(2);

    hung.freeze();
    const frozenAt = Date.now();
    await until(() => server.connectionCount() === 1, 5_000, "the hung connection dropped");
    // Not dropped for another reason: about a ping timeout went by (a ping sent just before the freeze
    // may have had its answer cut off, so not a whole interval plus timeout).
    expect(Date.now() - frozenAt).toBeGreaterThanOrEqual(150);
    expect(server.streamCount()).toBe(1);

    // The live client answered pings all along: three more, then it still gets an update.
    const pings = live.serverPings;
    await until(() => live.serverPings >= pings + 3, 5_000, "three more keepalive pings");
    putCla(store, "k", "10.0.0.2");
    const update = await a.next();
    expect(update.resources).toHaveLength(1);
    expect(server.connectionCount()).toBe(1);
  });

  it("connection age: each connection gets a GOAWAY at its own jittered age, and clients carry on over a new one", async () => {
    const { store, server, port } = await startServer({
      limits: { maxConnectionAgeMs: 1_000, maxConnectionAgeGraceMs: 200 },
    });
    later(server);
    putCla(store, "a", "10.0.0.1");
    // Raw HTTP/2 sessions see the GOAWAY itself (grpc-js clients hide it).
    const t0 = Date.now();
    const goaways: number[] = [];
    for (let i = 0; i < 8; i++) {
      const s = h2connect(`http://127.0.0.1:${port}`);
      s.on("error", () => {});
      // grpc-js follows its GOAWAY with the one session.close() sends: count the first.
      s.once("goaway", () => goaways.push(Date.now() - t0));
      // A stream keeps the connection out of the idle timeout.
      s.request({
        ":path": "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
        ":method": "POST",
        "content-type": "application/grpc",
      }).on("error", () => {});
      later({ close: () => s.destroy() });
    }
    await until(() => goaways.length === 8, 5_000, "eight GOAWAYs");
    for (const at of goaways) {
      expect(at).toBeGreaterThanOrEqual(850);
      expect(at).toBeLessThan(2_000);
    }
    // ±10 % jitter: eight connections opened together do not all go at the same moment.
    expect(Math.max(...goaways) - Math.min(...goaways)).toBeGreaterThan(10);

    // A grpc-js xDS client over an aging connection: its stream is cut after the grace period, and the
    // reopened stream, on a new connection, gets updates.
    const c = later(new RawXdsClient("delta", port, undefined, own));
    c.send({ node: node("a"), typeUrl: T.endpoint, resourceNamesSubscribe: ["a"] });
    await c.next();
    const ended = await c.status(5_000);
    expect(ended.code).toBe(grpc.status.UNAVAILABLE);
    const again = later(new RawXdsClient("delta", port, undefined, own));
    again.send({ node: node("a"), typeUrl: T.endpoint, resourceNamesSubscribe: ["a"] });
    await again.next();
    putCla(store, "a", "10.0.0.3");
    expect((await again.next()).resources).toHaveLength(1);
  });

  it("a response larger than maxResponseBytes is not sent: its stream ends naming the limit, others go on", async () => {
    const { store, server, port, metrics } = await startServer({ limits: { maxResponseBytes: 100 * 1024 } });
    later(server);
    putCla(store, "small", "10.0.0.1");
    putCla(store, "big", ...manyHosts(10_000));
    const victim = later(new RawXdsClient("sotw", port, undefined, own));
    const bystander = later(new RawXdsClient("sotw", port, undefined, own));
    victim.send({ node: node("v"), typeUrl: T.endpoint, resourceNames: ["big"] });
    bystander.send({ node: node("b"), typeUrl: T.endpoint, resourceNames: ["small"] });
    const s = await victim.status();
    expect(s.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(s.details).toContain("xds.limits.maxResponseBytes");
    expect(metrics.limits.maxResponseBytes).toBe(1);
    const r = await bystander.next();
    putCla(store, "small", "10.0.0.2");
    bystander.send({ typeUrl: T.endpoint, resourceNames: ["small"], responseNonce: r.nonce });
    expect((await bystander.next()).resources).toHaveLength(1);
  });

  it("ACKs of our responses are never rate-limited: 60 pushes ACKed one by one pass a bucket of 2", async () => {
    const { store, server, port } = await startServer({ limits: { requestsPerSecond: 1, requestBurst: 2 } });
    later(server);
    putCla(store, "r", "10.0.0.1");
    const c = later(new RawXdsClient("delta", port));
    c.send({ node: node("r"), typeUrl: T.endpoint, resourceNamesSubscribe: ["r"] });
    let r = await c.next();
    for (let i = 1; i <= 60; i++) {
      putCla(store, "r", `10.0.1.${i}`);
      c.send({ typeUrl: T.endpoint, responseNonce: r.nonce });
      r = await c.next();
    }
    c.send({ typeUrl: T.endpoint, responseNonce: r.nonce });
    expect(c.ended).toBeUndefined();
    // Two requests that answer nothing drain the bucket (the first request took one token).
    c.send({ typeUrl: T.endpoint, resourceNamesSubscribe: ["x1"] });
    c.send({ typeUrl: T.endpoint, resourceNamesSubscribe: ["x2"] });
    const s = await c.status();
    expect(s.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(s.details).toContain("xds.limits.requestsPerSecond");
  });

  it("limits changed while running apply to what comes next; grpc-js settings are reported as needing a restart", async () => {
    const { server, port } = await startServer();
    later(server);
    const keep = connect(port, "127.0.0.1");
    keep.on("error", () => {});
    later({ close: () => keep.destroy() });
    await until(() => server.connectionCount() === 1, 5_000, "one connection");

    expect(server.setLimits({ maxConnectionsPerPeer: 1, keepaliveMs: 5_000 })).toEqual(["keepaliveMs"]);
    expect(server.limits().maxConnectionsPerPeer).toBe(1);
    const refused: Socket = connect(port, "127.0.0.1");
    refused.on("error", () => {});
    refused.resume();
    await new Promise<void>((resolve) => refused.once("close", () => resolve()));
    expect(server.connectionCount()).toBe(1);
  });
});
