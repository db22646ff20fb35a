import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { allocFramed, isFramed, useFramedWrites } from "../../src/xds/framed-writes.js";

const PATH = "/bench.Framed/Stream";
const identity = {
  path: PATH,
  requestStream: true,
  responseStream: true,
  requestSerialize: (b: Buffer) => b,
  requestDeserialize: (b: Buffer) => b,
  responseSerialize: (b: Buffer) => b,
  responseDeserialize: (b: Buffer) => b,
};

describe("framed writes (a response framed once, written by grpc-js without its copy)", () => {
  let server: grpc.Server;
  let port = 0;
  const patchedCalls: boolean[] = [];
  const shared = allocFramed(3000);
  for (let i = 0; i < shared.length; i++) shared[i] = i & 255;

  beforeAll(async () => {
    server = new grpc.Server();
    server.addService(
      { S: identity },
      {
        S: (call: grpc.ServerDuplexStream<Buffer, Buffer>) => {
          patchedCalls.push(useFramedWrites(call));
          call.on("data", (req: Buffer) => {
            // "framed" → the shared framed buffer; anything else → a plain Buffer (grpc-js's own path).
            call.write(req.toString() === "framed" ? shared : Buffer.from(`plain:${req.toString()}`));
          });
          call.on("error", () => {});
        },
      },
    );
    port = await new Promise<number>((res, rej) =>
      server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) =>
        e ? rej(e) : res(p),
      ),
    );
  });
  afterAll(() => server.forceShutdown());

  it("applies to grpc-js's server calls as installed, and every client gets the exact bytes", async () => {
    expect(isFramed(shared)).toBe(true);
    const clients = Array.from(
      { length: 3 },
      () =>
        new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
          "grpc.use_local_subchannel_pool": 1,
        }),
    );
    try {
      const got = await Promise.all(
        clients.map(
          (c) =>
            new Promise<Buffer[]>((resolve, reject) => {
              const call = c.makeBidiStreamRequest(
                PATH,
                (b: Buffer) => b,
                (b: Buffer) => b,
              );
              const out: Buffer[] = [];
              call.on("data", (b: Buffer) => {
                out.push(b);
                if (out.length === 2) {
                  call.cancel();
                  resolve(out);
                }
              });
              call.on("error", (e: grpc.ServiceError) => {
                if (e.code !== grpc.status.CANCELLED) reject(e);
              });
              call.write(Buffer.from("framed"));
              call.write(Buffer.from("x"));
            }),
        ),
      );
      // If a grpc-js upgrade changes its internals, this fails instead of the fast path silently vanishing.
      expect(patchedCalls).toEqual([true, true, true]);
      for (const [framed, plain] of got) {
        expect(Buffer.compare(framed as Buffer, shared)).toBe(0);
        expect(plain?.toString()).toBe("plain:x");
      }
    } finally {
      for (const c of clients) c.close();
    }
  });
});

describe("the xDS server writes one response to many streams without copying it per stream", () => {
  it("a push to 20 streams copies no response-sized buffer, and every stream gets the assignment", async () => {
    const { startServer } = await import("./harness.js");
    const { RawXdsClient, sotwNames } = await import("./raw-client.js");
    const { clusterLoadAssignment } = await import("../../src/xds/resource-builders.js");
    const { TYPE_URLS } = await import("../../src/xds/type-urls.js");
    const cla = (port: number) =>
      clusterLoadAssignment("big", [
        {
          zone: "z",
          endpoints: Array.from({ length: 500 }, (_, i) => ({ address: `127.1.${i >> 8}.${i & 255}`, port })),
        },
      ]);
    const { store, server, port } = await startServer();
    store.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "big", resource: cla(1000) }] });
    const clients = Array.from({ length: 20 }, () => new RawXdsClient("sotw", port));
    try {
      for (const c of clients) c.send({ typeUrl: TYPE_URLS.endpoint, resourceNames: ["big"] });
      const first = await Promise.all(clients.map((c) => c.next()));
      for (const r of first) expect(sotwNames(r)).toEqual(["big"]);
      const size = store.getEncoded(TYPE_URLS.endpoint, "big")?.bytes.length ?? 0;
      // grpc-js frames a message by copying it into a new buffer 5 bytes longer, at offset 5
      // (serializeMessage); count such copies of response-sized messages (the client's own reads differ).
      const copy = Buffer.prototype.copy;
      let bigCopies = 0;
      Buffer.prototype.copy = function (this: Buffer, ...args: Parameters<Buffer["copy"]>) {
        const [target, at] = args;
        if (this.length >= size && at === 5 && target.length === this.length + 5) bigCopies++;
        return copy.apply(this, args);
      };
      try {
        for (const [i, c] of clients.entries()) {
          const r = first[i];
          c.send({
            typeUrl: TYPE_URLS.endpoint,
            resourceNames: ["big"],
            versionInfo: r?.versionInfo,
            responseNonce: r?.nonce,
          });
        }
        store.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "big", resource: cla(2000) }] });
        const second = await Promise.all(clients.map((c) => c.next()));
        for (const r of second) expect(sotwNames(r)).toEqual(["big"]);
      } finally {
        Buffer.prototype.copy = copy;
      }
      expect(bigCopies).toBe(0);
    } finally {
      for (const c of clients) c.close();
      await server.shutdown(500);
    }
  });
});
