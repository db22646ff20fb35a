/**
 * CSDS on the xDS port, read with dns-eds's own client (protobuf-es) while raw xDS clients over real
 * gRPC hold each state: STALE while a response is unACKed (the raw client simply has not answered
 * yet), SYNCED after its ACK, ERROR with the client's message after a NACK, NOT_SENT for a name the
 * store does not have. Also node_matchers, contents on request, the stream method, who may see what,
 * and the convergence hook.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { CsdsClientError, fetchClientStatus } from "../../src/cli/csds-client.js";
import { ClusterLoadAssignmentSchema } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import {
  type ClientConfig,
  ClientStatusRequestSchema,
  type ClientStatusResponse,
  ClientStatusResponseSchema,
  ConfigStatus,
} from "../../src/gen/envoy/service/status/v3/csds_pb.js";
import { CSDS_SERVICE } from "../../src/xds/csds-service.js";
import type { ResourceStore } from "../../src/xds/resource-store.js";
import type { XdsServer } from "../../src/xds/server.js";
import { until } from "../support/wait-for.js";
import { node, putCla, RecordingMetrics, startServer, T } from "./harness.js";
import { RawXdsClient } from "./raw-client.js";

let store: ResourceStore;
let server: XdsServer;
let port: number;
const clients: RawXdsClient<"sotw" | "delta">[] = [];
const converged: number[] = [];

class ConvergenceMetrics extends RecordingMetrics {
  converged(ms: number): void {
    converged.push(ms);
  }
}

beforeAll(async () => {
  // Tests poll CSDS far faster than an operator would.
  ({ store, server, port } = await startServer({
    metrics: new ConvergenceMetrics(),
    csdsEntriesPerSecond: 10_000_000,
  }));
});
afterAll(async () => {
  await server.shutdown(1000);
});
afterEach(() => {
  for (const c of clients.splice(0)) c.close();
});

function open<K extends "sotw" | "delta">(kind: K): RawXdsClient<K> {
  const c = new RawXdsClient(kind, port);
  clients.push(c as RawXdsClient<"sotw" | "delta">);
  return c;
}

const fetch = (request = {}, contents = false) =>
  fetchClientStatus(`127.0.0.1:${port}`, { request, contents });

function clientOf(res: ClientStatusResponse, id: string): ClientConfig {
  const c = res.config.filter((x) => x.node?.id === id);
  expect(c, `exactly one client ${id}`).toHaveLength(1);
  return c[0] as ClientConfig;
}

const resource = (c: ClientConfig, name: string) => {
  const r = c.genericXdsConfigs.find((g) => g.name === name);
  if (!r) throw new Error(`no resource ${name} in ${c.genericXdsConfigs.map((g) => g.name)}`);
  return r;
};

const statusOf = async (id: string, name: string) => resource(clientOf(await fetch(), id), name).configStatus;

describe("CSDS: each state, SotW", () => {
  it("STALE while unACKed, SYNCED after the ACK, NOT_SENT for a missing name, ERROR with the NACK", async () => {
    const v1 = putCla(store, "st-a", "10.0.0.1");
    const c = open("sotw");
    c.send({ node: node("st-client", "zone-a"), typeUrl: T.endpoint, resourceNames: ["st-a", "st-missing"] });
    const r1 = await c.next();

    // The response is out and the client has said nothing yet: STALE, with the version sent.
    let cfg = clientOf(await fetch(), "st-client");
    expect(cfg.genericXdsConfigs.map((g) => [g.typeUrl, g.name])).toEqual([
      [T.endpoint, "st-a"],
      [T.endpoint, "st-missing"],
    ]);
    const stale = resource(cfg, "st-a");
    expect(stale.configStatus).toBe(ConfigStatus.STALE);
    expect(stale.versionInfo).toBe(v1);
    expect(stale.lastUpdated).toBeDefined(); // when it was sent
    expect(resource(cfg, "st-missing").configStatus).toBe(ConfigStatus.NOT_SENT);
    // The node as sent, with dns-eds's facts about the connection.
    expect(cfg.node?.locality?.zone).toBe("zone-a");
    const meta = cfg.node?.metadata as {
      dns_eds: { peer: string; streams: string[]; locality: { zone: string } };
    };
    expect(meta.dns_eds.peer).toMatch(/^(127\.0\.0\.1|\[::ffff:127\.0\.0\.1\]|::ffff:127\.0\.0\.1):\d+$/);
    expect(meta.dns_eds.streams).toEqual(["ads-sotw"]);
    expect(meta.dns_eds.locality.zone).toBe("zone-a");

    c.send({
      typeUrl: T.endpoint,
      resourceNames: ["st-a", "st-missing"],
      versionInfo: r1.versionInfo,
      responseNonce: r1.nonce,
    });
    await until(
      async () => (await statusOf("st-client", "st-a")) === ConfigStatus.SYNCED,
      5_000,
      "SYNCED after ACK",
    );
    cfg = clientOf(await fetch(), "st-client");
    expect(resource(cfg, "st-a").versionInfo).toBe(v1);
    expect(resource(cfg, "st-a").lastUpdated).toBeDefined();
    expect(resource(cfg, "st-a").errorState).toBeUndefined();

    // A new version the client refuses: ERROR, still holding v1, with the refused version and message.
    const v2 = putCla(store, "st-a", "10.0.0.2");
    const r2 = await c.next();
    c.send({
      typeUrl: T.endpoint,
      resourceNames: ["st-a", "st-missing"],
      versionInfo: r1.versionInfo,
      responseNonce: r2.nonce,
      errorDetail: { code: 3, message: "endpoint 10.0.0.2: weight sum overflows" },
    });
    await until(
      async () => (await statusOf("st-client", "st-a")) === ConfigStatus.ERROR,
      5_000,
      "ERROR after NACK",
    );
    const err = resource(clientOf(await fetch(), "st-client"), "st-a");
    expect(err.versionInfo).toBe(v1);
    expect(err.errorState?.details).toBe("endpoint 10.0.0.2: weight sum overflows");
    expect(err.errorState?.versionInfo).toBe(v2);
    expect(err.errorState?.lastUpdateAttempt).toBeDefined();

    // The name appears: sent, so STALE until ACKed; then a version the client takes clears the ERROR.
    putCla(store, "st-missing", "10.0.0.9");
    const r3 = await c.next();
    expect(await statusOf("st-client", "st-missing")).toBe(ConfigStatus.STALE);
    c.send({
      typeUrl: T.endpoint,
      resourceNames: ["st-a", "st-missing"],
      versionInfo: r3.versionInfo,
      responseNonce: r3.nonce,
    });
    await until(
      async () => (await statusOf("st-client", "st-missing")) === ConfigStatus.SYNCED,
      5_000,
      "st-missing SYNCED",
    );
    expect(await statusOf("st-client", "st-a")).toBe(ConfigStatus.ERROR);
    putCla(store, "st-a", "10.0.0.3");
    const r4 = await c.next();
    c.send({
      typeUrl: T.endpoint,
      resourceNames: ["st-a", "st-missing"],
      versionInfo: r4.versionInfo,
      responseNonce: r4.nonce,
    });
    await until(
      async () => (await statusOf("st-client", "st-a")) === ConfigStatus.SYNCED,
      5_000,
      "st-a SYNCED again",
    );
  });
});

describe("CSDS: Delta", () => {
  it("STALE, SYNCED, NOT_SENT and ERROR on a Delta stream, with the stream kind in metadata", async () => {
    const v1 = putCla(store, "dl-a", "10.1.0.1");
    const c = open("delta");
    c.send({ node: node("dl-client"), typeUrl: T.endpoint, resourceNamesSubscribe: ["dl-a", "dl-missing"] });
    const r1 = await c.next();
    const names = (r: typeof r1) => r.resources.map((x) => x.name);
    expect(names(r1)).toEqual(["dl-a"]);
    expect(await statusOf("dl-client", "dl-a")).toBe(ConfigStatus.STALE);
    expect(await statusOf("dl-client", "dl-missing")).toBe(ConfigStatus.NOT_SENT);
    c.send({ typeUrl: T.endpoint, responseNonce: r1.nonce });
    // The absent name is reported removed in a response of its own; answer whatever comes.
    await until(
      async () => {
        for (const r of c.responses.splice(0)) c.send({ typeUrl: T.endpoint, responseNonce: r.nonce });
        return (await statusOf("dl-client", "dl-a")) === ConfigStatus.SYNCED;
      },
      5_000,
      "dl-a SYNCED",
    );
    const cfg = clientOf(await fetch(), "dl-client");
    expect(resource(cfg, "dl-a").versionInfo).toBe(v1);
    expect(resource(cfg, "dl-missing").configStatus).toBe(ConfigStatus.NOT_SENT);
    const meta = (cfg.node?.metadata ?? {}) as { dns_eds?: { streams: string[] } };
    expect(meta.dns_eds?.streams).toEqual(["ads-delta"]);

    const v2 = putCla(store, "dl-a", "10.1.0.2");
    const r2 = await c.next();
    c.send({
      typeUrl: T.endpoint,
      responseNonce: r2.nonce,
      errorDetail: { code: 3, message: "refused by test" },
    });
    await until(
      async () => (await statusOf("dl-client", "dl-a")) === ConfigStatus.ERROR,
      5_000,
      "delta ERROR",
    );
    const err = resource(clientOf(await fetch(), "dl-client"), "dl-a");
    expect([err.versionInfo, err.errorState?.versionInfo, err.errorState?.details]).toEqual([
      v1,
      v2,
      "refused by test",
    ]);
  });
});

describe("CSDS requests", () => {
  async function twoClients() {
    putCla(store, "m-a", "10.2.0.1");
    const a = open("sotw");
    a.send({ node: node("m-east-1", "east"), typeUrl: T.endpoint, resourceNames: ["m-a"] });
    const b = open("sotw");
    b.send({ node: node("m-west-1", "west"), typeUrl: T.endpoint, resourceNames: ["m-a"] });
    await a.next();
    await b.next();
  }
  const ids = (r: ClientStatusResponse) =>
    r.config.map((c) => c.node?.id).filter((id) => id?.startsWith("m-"));

  it("node_matchers: by id (exact, prefix, regex), by zone through dns_eds metadata, ORed", async () => {
    await twoClients();
    expect(
      ids(
        await fetch({ nodeMatchers: [{ nodeId: { matchPattern: { case: "exact", value: "m-east-1" } } }] }),
      ),
    ).toEqual(["m-east-1"]);
    expect(
      ids(await fetch({ nodeMatchers: [{ nodeId: { matchPattern: { case: "prefix", value: "m-" } } }] })),
    ).toEqual(["m-east-1", "m-west-1"]);
    expect(
      ids(
        await fetch({
          nodeMatchers: [{ nodeId: { matchPattern: { case: "safeRegex", value: { regex: "m-w.*" } } } }],
        }),
      ),
    ).toEqual(["m-west-1"]);
    const zone = (z: string) => ({
      nodeMetadatas: [
        {
          path: ["dns_eds", "locality", "zone"].map((key) => ({
            segment: { case: "key" as const, value: key },
          })),
          value: {
            matchPattern: {
              case: "stringMatch" as const,
              value: { matchPattern: { case: "exact" as const, value: z } },
            },
          },
        },
      ],
    });
    expect(ids(await fetch({ nodeMatchers: [zone("west")] }))).toEqual(["m-west-1"]);
    expect(ids(await fetch({ nodeMatchers: [zone("west"), zone("east")] }))).toEqual([
      "m-east-1",
      "m-west-1",
    ]);
    expect(ids(await fetch({ nodeMatchers: [zone("north")] }))).toEqual([]);
  });

  it("refuses a matcher it cannot evaluate safely with INVALID_ARGUMENT", async () => {
    const bad = fetch({
      nodeMatchers: [{ nodeId: { matchPattern: { case: "safeRegex", value: { regex: "(a+)+$" } } } }],
    });
    await expect(bad).rejects.toBeInstanceOf(CsdsClientError);
    await expect(bad).rejects.toMatchObject({ grpcCode: grpc.status.INVALID_ARGUMENT });
    await expect(bad).rejects.toThrow(/nested repetition/);
  });

  it("xds_config only when asked through metadata, and never with exclude_resource_contents", async () => {
    await twoClients();
    const only = {
      nodeMatchers: [{ nodeId: { matchPattern: { case: "exact" as const, value: "m-east-1" } } }],
    };
    const plain = clientOf(await fetch(only), "m-east-1");
    expect(resource(plain, "m-a").xdsConfig).toBeUndefined();
    const full = clientOf(await fetch(only, true), "m-east-1");
    const cla = anyUnpack(resource(full, "m-a").xdsConfig as never, ClusterLoadAssignmentSchema);
    expect(cla?.clusterName).toBe("m-a");
    const excluded = clientOf(await fetch({ ...only, excludeResourceContents: true }, true), "m-east-1");
    expect(resource(excluded, "m-a").xdsConfig).toBeUndefined();
  });

  it("StreamClientStatus answers every request on the stream", async () => {
    await twoClients();
    const client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure());
    const call = client.makeBidiStreamRequest(
      `/${CSDS_SERVICE}/StreamClientStatus`,
      (r: unknown) => Buffer.from(toBinary(ClientStatusRequestSchema, r as never)),
      (b: Buffer) => fromBinary(ClientStatusResponseSchema, b),
    );
    const got: ClientStatusResponse[] = [];
    call.on("data", (r: ClientStatusResponse) => got.push(r));
    call.on("error", () => {});
    call.write(
      create(ClientStatusRequestSchema, {
        nodeMatchers: [{ nodeId: { matchPattern: { case: "exact", value: "m-east-1" } } }],
      }),
    );
    call.write(
      create(ClientStatusRequestSchema, {
        nodeMatchers: [{ nodeId: { matchPattern: { case: "exact", value: "m-west-1" } } }],
      }),
    );
    await until(() => got.length === 2, 5_000, "two stream answers");
    expect(got.map(ids)).toEqual([["m-east-1"], ["m-west-1"]]);
    call.end();
    client.close();
  });

  it("a change published is observed as converged once the last stream that got it ACKs", async () => {
    putCla(store, "cv-a", "10.3.0.1");
    const a = open("sotw");
    const b = open("sotw");
    a.send({ node: node("cv-1"), typeUrl: T.endpoint, resourceNames: ["cv-a"] });
    b.send({ node: node("cv-2"), typeUrl: T.endpoint, resourceNames: ["cv-a"] });
    const ra = await a.next();
    const rb = await b.next();
    a.send({
      typeUrl: T.endpoint,
      resourceNames: ["cv-a"],
      versionInfo: ra.versionInfo,
      responseNonce: ra.nonce,
    });
    b.send({
      typeUrl: T.endpoint,
      resourceNames: ["cv-a"],
      versionInfo: rb.versionInfo,
      responseNonce: rb.nonce,
    });
    await until(async () => (await statusOf("cv-2", "cv-a")) === ConfigStatus.SYNCED, 5_000, "both synced");
    converged.length = 0;
    putCla(store, "cv-a", "10.3.0.2");
    const a2 = await a.next();
    const b2 = await b.next();
    a.send({
      typeUrl: T.endpoint,
      resourceNames: ["cv-a"],
      versionInfo: a2.versionInfo,
      responseNonce: a2.nonce,
    });
    await until(async () => (await statusOf("cv-1", "cv-a")) === ConfigStatus.SYNCED, 5_000, "a synced");
    // One of two has ACKed: not converged yet.
    expect(converged).toEqual([]);
    b.send({
      typeUrl: T.endpoint,
      resourceNames: ["cv-a"],
      versionInfo: b2.versionInfo,
      responseNonce: b2.nonce,
    });
    await until(() => converged.length === 1, 5_000, "convergence observed");
    expect(converged[0]).toBeGreaterThanOrEqual(0);
  });
});

describe("CSDS rate", () => {
  it("answers draw on a server-wide budget of entries (at least 100 each): over it, RESOURCE_EXHAUSTED", async () => {
    const limited = await startServer({ csdsEntriesPerSecond: 200 });
    try {
      const at = `127.0.0.1:${limited.port}`;
      const results = await Promise.allSettled([1, 2, 3, 4].map(() => fetchClientStatus(at)));
      const refused = results.filter((r) => r.status === "rejected");
      expect(results.filter((r) => r.status === "fulfilled").length).toBeGreaterThanOrEqual(2);
      expect(refused.length).toBeGreaterThanOrEqual(1);
      expect((refused[0] as PromiseRejectedResult).reason).toMatchObject({
        grpcCode: grpc.status.RESOURCE_EXHAUSTED,
      });
    } finally {
      await limited.server.shutdown(1000);
    }
  });
});

describe("CSDS access", () => {
  it("a caller limited by csdsAccess sees only the clients it is allowed", async () => {
    const limited = await startServer({
      csdsAccess: () => ({ all: false, visible: (c) => c.nodeId === "self" }),
    });
    try {
      putCla(limited.store, "x", "10.4.0.1");
      const self = new RawXdsClient("sotw", limited.port);
      const other = new RawXdsClient("sotw", limited.port);
      clients.push(self, other);
      self.send({ node: node("self"), typeUrl: T.endpoint, resourceNames: ["x"] });
      other.send({ node: node("other"), typeUrl: T.endpoint, resourceNames: ["x"] });
      await self.next();
      await other.next();
      const res = await fetchClientStatus(`127.0.0.1:${limited.port}`);
      expect(res.config.map((c) => c.node?.id)).toEqual(["self"]);
      expect(limited.server.clients().map((c) => c.nodeId)).toEqual(["other", "self"]);
    } finally {
      await limited.server.shutdown(1000);
    }
  });
});
