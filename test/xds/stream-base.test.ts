import { EventEmitter } from "node:events";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import {
  DiscoveryRequestSchema,
  DiscoveryResponseSchema,
} from "../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { scanSotwRequest, type XdsRequest } from "../../src/xds/request-scanner.js";
import { ResourceStore } from "../../src/xds/resource-store.js";
import { SotwStream } from "../../src/xds/sotw-stream.js";
import { addPending, deletePending, pendingNames, TypeStateBase } from "../../src/xds/stream-base.js";
import { resourceStatuses } from "../../src/xds/stream-status.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";
import { streamContextForTests } from "../support/stream-context.js";
import { putCla, putCluster, T } from "./harness.js";

describe("pending names of a type state", () => {
  it("hold one name in the state and several in order, and are none once the last is taken", () => {
    const st = new TypeStateBase(TYPE_URLS.endpoint);
    expect([...pendingNames(st)]).toEqual([]);
    addPending(st, "a");
    addPending(st, "a");
    expect(st.pending).toBe("a");
    expect([...pendingNames(st)]).toEqual(["a"]);
    addPending(st, "b");
    addPending(st, "c");
    addPending(st, "a");
    expect([...pendingNames(st)]).toEqual(["a", "b", "c"]);
    deletePending(st, "a");
    deletePending(st, "x");
    expect([...pendingNames(st)]).toEqual(["b", "c"]);
    deletePending(st, "c");
    deletePending(st, "b");
    // Empty is always undefined: what isDirty and the in-step check read.
    expect(st.pending).toBeUndefined();
    addPending(st, "d");
    deletePending(st, "e");
    expect(st.pending).toBe("d");
    deletePending(st, "d");
    expect(st.pending).toBeUndefined();
  });
});

/** A call whose writes complete at once; the test reads what was written. */
class FakeCall extends EventEmitter {
  readonly written: Buffer[] = [];
  write(buf: Buffer, cb?: () => void): boolean {
    this.written.push(buf);
    cb?.();
    return true;
  }
  end(): void {}
}

describe("when a client took each version (fleet status)", () => {
  it("a full-state ACK keeps the time of a version the client already held, and dates a new one", async () => {
    let now = 1_000;
    const store = new ResourceStore({ now: () => now });
    const ctx = streamContextForTests({ store, now: () => now });
    const limits = ctx.limits;
    const call = new FakeCall();
    const stream = new SotwStream(ctx, call as unknown as ServerDuplexStream<XdsRequest, Buffer>);
    const send = (nonce: string) =>
      call.emit(
        "data",
        scanSotwRequest(
          toBinary(
            DiscoveryRequestSchema,
            create(DiscoveryRequestSchema, { node: { id: "n" }, typeUrl: T.cluster, responseNonce: nonce }),
          ),
          limits,
        ),
      );
    const ackLast = () =>
      send(fromBinary(DiscoveryResponseSchema, call.written[call.written.length - 1] as Buffer).nonce);
    const lastUpdated = () =>
      Object.fromEntries(resourceStatuses(stream.status()).map((r) => [r.name, [r.status, r.lastUpdated]]));
    const turn = () => new Promise<void>((r) => setImmediate(r));

    putCla(store, "a", "10.0.0.1");
    putCluster(store, "a");
    send("");
    await turn();
    now = 2_000;
    ackLast();
    expect(lastUpdated()).toEqual({ a: ["SYNCED", 2_000] });
    // b is added: the full-state response carries a again, unchanged, and b.
    putCla(store, "b", "10.0.0.2");
    putCluster(store, "b");
    await turn();
    now = 3_000;
    ackLast();
    expect(lastUpdated()).toEqual({ a: ["SYNCED", 2_000], b: ["SYNCED", 3_000] });
    // a changes: its new version is dated by the ACK that took it.
    putCluster(store, "a", 5_000);
    await turn();
    now = 4_000;
    ackLast();
    expect(lastUpdated()).toEqual({ a: ["SYNCED", 4_000], b: ["SYNCED", 3_000] });
  });
});
