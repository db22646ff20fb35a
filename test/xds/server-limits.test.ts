import { EventEmitter } from "node:events";
import { status } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import type { ClusterLoadAssignment } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { clusterLoadAssignment } from "../../src/xds/resource-builders.js";
import { shutdownOnSignals } from "../../src/xds/server.js";
import { StreamWriter } from "../support/stream-writer.js";
import { node, putCla, startServer, T } from "./harness.js";
import { RawXdsClient, sotwResources } from "./raw-client.js";

const bigCla = (name: string, round: number, n = 3000) =>
  clusterLoadAssignment(name, [
    {
      zone: "z",
      endpoints: Array.from({ length: n }, (_, i) => ({
        address: `10.${(i >> 8) & 255}.${i & 255}.${round & 255}`,
        port: 1000 + (round % 50000),
      })),
    },
  ]);

function firstPort(r: Parameters<typeof sotwResources>[0]): number | undefined {
  const cla = sotwResources(r)[0]?.message as ClusterLoadAssignment | undefined;
  const ep = cla?.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
  if (ep?.case !== "endpoint") return undefined;
  const a = ep.value.address?.address;
  return a?.case === "socketAddress" && a.value.portSpecifier.case === "portValue"
    ? a.value.portSpecifier.value
    : undefined;
}

describe("StreamWriter backpressure", () => {
  it("keeps one response in flight, honours write() == false until drain, and pulls the latest state", async () => {
    const call = new EventEmitter() as EventEmitter & { write: (b: Buffer, cb?: () => void) => boolean };
    const written: string[] = [];
    const callbacks: Array<() => void> = [];
    let accept = true;
    call.write = (b: Buffer, cb?: () => void) => {
      written.push(b.toString());
      if (cb) callbacks.push(cb);
      return accept;
    };
    let latest = 0;
    let sent = 0;
    const w = new StreamWriter(
      call,
      () => {
        if (sent >= latest) return undefined;
        sent = latest;
        return Buffer.from(String(sent));
      },
      (e) => {
        throw e;
      },
    );
    const turn = () => new Promise((r) => setImmediate(r));
    latest = 1;
    w.kick();
    await turn();
    expect(written).toEqual(["1"]);
    // Not flushed yet: newer states wait, and are coalesced.
    for (latest = 2; latest <= 10; latest++) w.kick();
    latest = 10;
    await turn();
    expect(written).toEqual(["1"]);
    expect(w.isBlocked).toBe(true);
    callbacks.shift()?.();
    expect(written).toEqual(["1", "10"]);
    // The transport reports a full buffer: even after the flush callback, wait for 'drain'.
    accept = false;
    callbacks.shift()?.();
    latest = 11;
    w.kick();
    await turn();
    expect(written).toEqual(["1", "10", "11"]);
    callbacks.shift()?.();
    latest = 12;
    w.kick();
    await turn();
    expect(written).toEqual(["1", "10", "11"]);
    accept = true;
    call.emit("drain");
    expect(written).toEqual(["1", "10", "11", "12"]);
  });
});

describe("xDS server limits", () => {
  it("a client that stops reading gets coalesced updates and does not hold back a fast client", async () => {
    const { store, server, port } = await startServer();
    const slow = new RawXdsClient("sotw", port);
    const fast = new RawXdsClient("sotw", port);
    try {
      store.publish({ upsert: [{ typeUrl: T.endpoint, name: "big", resource: bigCla("big", 0) }] });
      for (const c of [slow, fast]) c.send({ node: node("x"), typeUrl: T.endpoint, resourceNames: ["big"] });
      await slow.next();
      await fast.next();
      slow.call.pause();
      const rounds = 120;
      for (let i = 1; i <= rounds; i++) {
        store.publish({ upsert: [{ typeUrl: T.endpoint, name: "big", resource: bigCla("big", i) }] });
        // Let the fast client drain (bounded wait) so the server keeps writing to it.
        const r = await fast.next(10_000);
        expect(r.nonce).not.toBe("");
        fast.responses.splice(0);
      }
      const finalVersion = store.get(T.endpoint, "big")?.version;
      slow.call.resume();
      let received = 0;
      for (let i = 0; i <= rounds; i++) {
        const r = await slow.next(10_000);
        received++;
        if (firstPort(r) === 1000 + rounds) break;
      }
      expect(finalVersion).toBeDefined();
      expect(slow.responses).toEqual([]);
      // Writes stop once grpc-js reports backpressure; the rest is coalesced into the latest state.
      expect(received).toBeLessThan(rounds / 2);
    } finally {
      slow.close();
      fast.close();
      await server.shutdown(500);
    }
  });

  it("refuses streams beyond maxStreams and subscriptions beyond maxNamesPerStream with RESOURCE_EXHAUSTED", async () => {
    const { store, server, port } = await startServer({ limits: { maxStreams: 1, maxNamesPerStream: 3 } });
    putCla(store, "l1", "10.0.0.1");
    const a = new RawXdsClient("sotw", port);
    const b = new RawXdsClient("sotw", port);
    try {
      a.send({ node: node("a"), typeUrl: T.endpoint, resourceNames: ["l1"] });
      const r = await a.next();
      b.send({ node: node("b"), typeUrl: T.endpoint, resourceNames: ["l1"] });
      const refused = await b.status();
      expect(refused.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(refused.details).toContain("xds.limits.maxStreams");
      a.send({
        typeUrl: T.endpoint,
        resourceNames: ["l1", "l2", "l3", "l4"],
        responseNonce: r.nonce,
        versionInfo: r.versionInfo,
      });
      const over = await a.status();
      expect(over.code).toBe(status.RESOURCE_EXHAUSTED);
      expect(over.details).toContain("xds.limits.maxNamesPerStream");
    } finally {
      a.close();
      b.close();
      await server.shutdown(500);
    }
  });

  it("rejects requests larger than maxRequestBytes", async () => {
    const { server, port } = await startServer({ limits: { maxRequestBytes: 1024 } });
    const a = new RawXdsClient("sotw", port);
    try {
      a.send({ node: node("a"), typeUrl: T.endpoint, resourceNames: ["x".repeat(4096)] });
      expect((await a.status()).code).toBe(status.RESOURCE_EXHAUSTED);
    } finally {
      a.close();
      await server.shutdown(500);
    }
  });

  it("shuts down gracefully on SIGTERM/SIGINT", async () => {
    const { server, port } = await startServer();
    const proc = new EventEmitter();
    const a = new RawXdsClient("sotw", port);
    try {
      a.send({ node: node("a"), typeUrl: T.endpoint, resourceNames: ["nothing"] });
      const done = new Promise<void>((resolve) => shutdownOnSignals(server, 1000, resolve, proc));
      // Wait until the stream is registered before signalling (bounded).
      for (let i = 0; i < 100 && server.streamCount() === 0; i++) await new Promise((r) => setTimeout(r, 20));
      expect(server.streamCount()).toBe(1);
      proc.emit("SIGTERM");
      await done;
      expect((await a.status()).code).toBe(status.UNAVAILABLE);
      expect(proc.listenerCount("SIGINT")).toBe(0);
    } finally {
      a.close();
    }
  });

  it("graceful shutdown ends open streams with UNAVAILABLE and stops accepting", async () => {
    const { store, server, port, metrics } = await startServer();
    putCla(store, "g1", "10.0.0.1");
    const a = new RawXdsClient("delta", port);
    try {
      a.send({ node: node("a"), typeUrl: T.endpoint, resourceNamesSubscribe: ["g1"] });
      await a.next();
      expect(server.streamCount()).toBe(1);
      await server.shutdown(2000);
      expect((await a.status()).code).toBe(status.UNAVAILABLE);
      expect(server.streamCount()).toBe(0);
      expect(metrics.closed).toBe(metrics.opened);
      const b = new RawXdsClient("sotw", port);
      b.send({ node: node("b"), typeUrl: T.endpoint, resourceNames: ["g1"] });
      expect((await b.status()).code).toBe(status.UNAVAILABLE);
      b.close();
    } finally {
      a.close();
    }
  });
});
