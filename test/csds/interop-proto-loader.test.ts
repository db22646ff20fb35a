/**
 * CSDS read by a client generated from the CSDS proto by another toolchain: @grpc/grpc-js with
 * @grpc/proto-loader (protobufjs) loading envoy/service/status/v3/csds.proto from @grpc/grpc-js-xds's
 * deps at run time, proto field names kept. Both methods (Fetch and Stream), node_matchers, statuses as
 * the enum names, the NACK's error_state, and resource contents when asked.
 */
import { createRequire } from "node:module";
import { dirname, join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import * as protoLoader from "@grpc/proto-loader";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResourceStore } from "../../src/xds/resource-store.js";
import type { XdsServer } from "../../src/xds/server.js";
import { until } from "../support/wait-for.js";
import { node, putCla, startServer, T } from "../xds/harness.js";
import { RawXdsClient } from "../xds/raw-client.js";

interface PlGeneric {
  type_url: string;
  name: string;
  version_info: string;
  config_status: string;
  last_updated?: { seconds: string };
  error_state?: { details: string; version_info: string };
  xds_config?: { type_url: string; value: Buffer };
}
interface PlResponse {
  config: Array<{ node: { id: string; metadata?: unknown }; generic_xds_configs: PlGeneric[] }>;
}
type Csds = grpc.Client & {
  FetchClientStatus(
    req: unknown,
    md: grpc.Metadata,
    cb: (e: grpc.ServiceError | null, r?: PlResponse) => void,
  ): void;
  StreamClientStatus(): grpc.ClientDuplexStream<unknown, PlResponse>;
};

let store: ResourceStore;
let server: XdsServer;
let port: number;
let csds: Csds;
const raws: RawXdsClient<"sotw">[] = [];

beforeAll(async () => {
  ({ store, server, port } = await startServer());
  const deps = join(
    dirname(createRequire(import.meta.url).resolve("@grpc/grpc-js-xds/package.json")),
    "deps",
  );
  const def = protoLoader.loadSync("envoy/service/status/v3/csds.proto", {
    keepCase: true,
    longs: String,
    enums: String,
    oneofs: true,
    includeDirs: ["envoy-api", "xds", "googleapis", "protoc-gen-validate"].map((d) => join(deps, d)),
  });
  const pkg = grpc.loadPackageDefinition(def) as unknown as {
    envoy: { service: { status: { v3: { ClientStatusDiscoveryService: grpc.ServiceClientConstructor } } } };
  };
  const Ctor = pkg.envoy.service.status.v3.ClientStatusDiscoveryService;
  csds = new Ctor(`127.0.0.1:${port}`, grpc.credentials.createInsecure()) as unknown as Csds;

  putCla(store, "pl-a", "10.6.0.1");
  putCla(store, "pl-b", "10.6.0.2");
  const ok = new RawXdsClient("sotw", port);
  ok.send({ node: node("pl-ok"), typeUrl: T.endpoint, resourceNames: ["pl-a"] });
  const r = await ok.next();
  ok.send({
    typeUrl: T.endpoint,
    resourceNames: ["pl-a"],
    versionInfo: r.versionInfo,
    responseNonce: r.nonce,
  });
  const bad = new RawXdsClient("sotw", port);
  bad.send({ node: node("pl-bad"), typeUrl: T.endpoint, resourceNames: ["pl-b"] });
  const rb = await bad.next();
  bad.send({
    typeUrl: T.endpoint,
    resourceNames: ["pl-b"],
    responseNonce: rb.nonce,
    errorDetail: { code: 3, message: "pl-b refused" },
  });
  raws.push(ok, bad);
  await until(
    () => {
      const s = new Map(server.clients().map((c) => [c.nodeId, c.resources[0]?.status]));
      return s.get("pl-ok") === "SYNCED" && s.get("pl-bad") === "ERROR";
    },
    5_000,
    "clients synced and nacked",
  );
}, 30_000);

afterAll(async () => {
  csds?.close();
  for (const r of raws) r.close();
  await server?.shutdown(1000);
});

const fetchPl = (req: unknown, md = new grpc.Metadata()) =>
  new Promise<PlResponse>((resolve, reject) =>
    csds.FetchClientStatus(req, md, (e, r) => (e || !r ? reject(e) : resolve(r))),
  );

describe("CSDS through @grpc/proto-loader", () => {
  it("FetchClientStatus: statuses, versions and the NACK, filtered by node id", async () => {
    const res = await fetchPl({ node_matchers: [{ node_id: { prefix: "pl-" } }] });
    expect(res.config.map((c) => c.node.id).sort()).toEqual(["pl-bad", "pl-ok"]);
    const ok = res.config.find((c) => c.node.id === "pl-ok")?.generic_xds_configs[0];
    expect(ok).toMatchObject({
      type_url: T.endpoint,
      name: "pl-a",
      version_info: store.get(T.endpoint, "pl-a")?.version,
      config_status: "SYNCED",
    });
    expect(Number(ok?.last_updated?.seconds)).toBeGreaterThan(0);
    expect(ok?.xds_config).toBeFalsy();
    const bad = res.config.find((c) => c.node.id === "pl-bad")?.generic_xds_configs[0];
    expect(bad?.config_status).toBe("ERROR");
    expect(bad?.error_state).toMatchObject({
      details: "pl-b refused",
      version_info: store.get(T.endpoint, "pl-b")?.version,
    });
  });

  it("contents when asked; StreamClientStatus answers each request", async () => {
    const md = new grpc.Metadata();
    md.set("dns-eds-resource-contents", "include");
    const res = await fetchPl({ node_matchers: [{ node_id: { exact: "pl-ok" } }] }, md);
    const g = res.config[0]?.generic_xds_configs[0];
    expect(g?.xds_config?.type_url).toBe(T.endpoint);
    expect(g?.xds_config?.value.length).toBeGreaterThan(10);

    const stream = csds.StreamClientStatus();
    const got: PlResponse[] = [];
    stream.on("data", (r: PlResponse) => got.push(r));
    stream.on("error", () => {});
    stream.write({ node_matchers: [{ node_id: { exact: "pl-ok" } }] });
    stream.write({ node_matchers: [{ node_id: { exact: "pl-bad" } }] });
    await until(() => got.length === 2, 5_000, "two answers");
    expect(got.map((r) => r.config.map((c) => c.node.id))).toEqual([["pl-ok"], ["pl-bad"]]);
    stream.end();
  });
});
