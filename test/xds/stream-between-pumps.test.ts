/**
 * A stream told of a change between its pumps. What a user must not notice: a change told while an
 * older response is unanswered is not reported converged by that older ACK, and a stream whose writes
 * are stuck still shows the change as pending in fleet status. Driven on fake calls, so the order of an
 * ACK against the pump is exact (the store tells streams at once and pumps them on the next turn).
 */
import { EventEmitter } from "node:events";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  DiscoveryRequestSchema,
  DiscoveryResponseSchema,
} from "../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { ConvergenceTracker } from "../../src/xds/convergence-tracker.js";
import { withDefaultLimits } from "../../src/xds/limits.js";
import { scanSotwRequest, type XdsRequest } from "../../src/xds/request-scanner.js";
import { ResourceStore } from "../../src/xds/resource-store.js";
import { SotwStream } from "../../src/xds/sotw-stream.js";
import { streamContextForTests } from "../support/stream-context.js";
import { putCla, T } from "./harness.js";

/** A call whose writes complete only when the test says so. */
class FakeCall extends EventEmitter {
  readonly written: Buffer[] = [];
  readonly pending: Array<() => void> = [];
  write(buf: Buffer, cb?: () => void): boolean {
    this.written.push(buf);
    if (cb) this.pending.push(cb);
    return true;
  }
  end(): void {}
  completeWrites(): void {
    for (const cb of this.pending.splice(0)) cb();
  }
}

const limits = withDefaultLimits(undefined);
const turn = () => new Promise<void>((r) => setImmediate(r));

function setup() {
  const store = new ResourceStore();
  const converged: number[] = [];
  const ctx = streamContextForTests({
    store,
    convergence: new ConvergenceTracker((ms) => converged.push(ms), Date.now),
    limits,
  });
  const call = new FakeCall();
  const stream = new SotwStream(ctx, call as unknown as ServerDuplexStream<XdsRequest, Buffer>);
  const send = (nonce: string, version: string) =>
    call.emit(
      "data",
      scanSotwRequest(
        toBinary(
          DiscoveryRequestSchema,
          create(DiscoveryRequestSchema, {
            node: { id: "inbox", cluster: "c" },
            typeUrl: T.endpoint,
            resourceNames: ["x"],
            responseNonce: nonce,
            versionInfo: version,
          }),
        ),
        limits,
      ),
    );
  const last = () => fromBinary(DiscoveryResponseSchema, call.written[call.written.length - 1] as Buffer);
  const ack = () => {
    const r = last();
    send(r.nonce, r.versionInfo);
  };
  return { store, converged, call, stream, send, ack, last };
}

describe("a change told between pumps", () => {
  it("an older response's ACK that arrives before the pump does not count the new change as converged", async () => {
    const { store, converged, call, send, ack } = setup();
    putCla(store, "x", "10.0.0.1");
    send("", "");
    await turn();
    expect(call.written).toHaveLength(1);
    call.completeWrites();
    // v2 is told while v1 is unanswered, and v1's ACK comes in the same turn, before the pump.
    putCla(store, "x", "10.0.0.2");
    ack();
    expect(converged).toEqual([]);
    await turn();
    expect(call.written).toHaveLength(2);
    call.completeWrites();
    ack();
    // v2's generation (the only one told to this stream) converges with v2's ACK, not before.
    expect(converged).toHaveLength(1);
  });

  it("a stream whose write never completes still shows the change as pending in fleet status", async () => {
    const { store, call, stream, send } = setup();
    putCla(store, "x", "10.0.0.1");
    send("", "");
    await turn();
    expect(call.written).toHaveLength(1);
    // The first write never completes (a client that stopped reading); a new version is published.
    const before = Date.now();
    putCla(store, "x", "10.0.0.3");
    await turn();
    expect(call.written).toHaveLength(1);
    const eds = stream.status().types.find((t) => t.typeUrl === T.endpoint);
    expect(eds?.pendingSince).toBeGreaterThanOrEqual(before);
    // And it is sent once the transport takes the first write.
    call.completeWrites();
    expect(call.written).toHaveLength(2);
  });
});
