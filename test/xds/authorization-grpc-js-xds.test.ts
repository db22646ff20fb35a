/**
 * Authorization as @grpc/grpc-js-xds sees it: a proxyless gRPC client whose xDS connection carries a
 * client certificate (through a local mTLS forwarder, as Istio's agent does: grpc-js-xds 1.14.1 cannot
 * present one itself) dials `xds:///web` and reaches the backend, while `xds:///pay`, which exists but
 * is outside its rule, fails exactly as `xds:///nothing`, a target that does not exist. The bootstrap is
 * per process, so this file is the only one here that registers the xds resolver.
 */
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CertificateFiles } from "../../src/xds/certificate-files.js";
import {
  clusterLoadAssignment,
  edsCluster,
  grpcApiListener,
  routeToCluster,
} from "../../src/xds/resource-builders.js";
import type { ResourceStore } from "../../src/xds/resource-store.js";
import type { XdsServer } from "../../src/xds/server.js";
import { askWho, freePortOnAll, startWhoBackend, type WhoBackend } from "../support/grpc-backends.js";
import { TestCerts } from "../support/test-certs.js";
import { TlsForwarder } from "../support/tls-forwarder.js";
import { waitFor } from "../support/wait-for.js";
import { type RecordingMetrics, startServer, T } from "./harness.js";

const certs = new TestCerts("authz-grpc-js-xds-");
let store: ResourceStore;
let server: XdsServer;
let metrics: RecordingMetrics;
let forwarder: TlsForwarder;
const backends: WhoBackend[] = [];
const clients: grpc.Client[] = [];

function publishService(name: string, host: string, port: number): void {
  store.publish({
    upsert: [
      {
        typeUrl: T.endpoint,
        name,
        resource: clusterLoadAssignment(name, [
          { region: "r1", zone: "z1", endpoints: [{ address: host, port, health: "HEALTHY" as const }] },
        ]),
      },
      { typeUrl: T.cluster, name, resource: edsCluster(name) },
      { typeUrl: T.route, name, resource: routeToCluster(name, name) },
      { typeUrl: T.listener, name, resource: grpcApiListener(name, name) },
    ],
  });
}

beforeAll(async () => {
  const ca = await certs.ca("ca");
  const serverCert = await certs.leaf(ca, "server", { ips: ["127.0.0.1"] });
  const client = await certs.leaf(ca, "client", { uris: ["spiffe://test.example/ns/web/sa/proxyless"] });
  const files = await CertificateFiles.load({
    certFile: serverCert.certFile,
    keyFile: serverCert.keyFile,
    caFile: ca.certFile,
  });
  let port: number;
  ({ store, server, metrics, port } = await startServer({
    credentials: files.credentials(),
    authorization: [
      { identities: ["spiffe://test.example/ns/web/*"], nodeIds: ["proxyless-web"], clusters: ["web"] },
    ],
  }));
  const backendPort = await freePortOnAll(["127.0.0.51", "127.0.0.52"]);
  for (const h of ["127.0.0.51", "127.0.0.52"]) backends.push(await startWhoBackend(h, backendPort));
  publishService("web", "127.0.0.51", backendPort);
  publishService("pay", "127.0.0.52", backendPort);
  forwarder = new TlsForwarder({ targetPort: port, cert: client.cert, key: client.key, ca: ca.cert });
  await forwarder.start();
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = JSON.stringify({
    xds_servers: [
      {
        server_uri: `127.0.0.1:${forwarder.port}`,
        channel_creds: [{ type: "insecure" }],
        server_features: ["xds_v3"],
      },
    ],
    node: { id: "proxyless-web", locality: { region: "r1", zone: "z1" } },
  });
  grpcXds.register();
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  for (const b of backends) b.server.forceShutdown();
  await forwarder?.stop();
  await server?.shutdown(500);
  certs.remove();
});

describe("@grpc/grpc-js-xds over mTLS with authorization", () => {
  it("reaches the service of its rule; a service outside it is, for this client, a target that does not exist", async () => {
    const web = new grpc.Client("xds:///web", grpc.credentials.createInsecure());
    clients.push(web);
    expect(await waitFor("a call to xds:///web", 20_000, () => askWho(web).catch(() => undefined))).toBe(
      "127.0.0.51",
    );
    expect(server.nodes().map((n) => n.identity?.principal)).toContain(
      "spiffe://test.example/ns/web/sa/proxyless",
    );

    const pay = new grpc.Client("xds:///pay", grpc.credentials.createInsecure());
    const nothing = new grpc.Client("xds:///nothing", grpc.credentials.createInsecure());
    clients.push(pay, nothing);
    const outcome = (c: grpc.Client) =>
      askWho(c, 20_000).then(
        (who) => `reached ${who}`,
        (e: grpc.ServiceError) => `failed with ${grpc.status[e.code]}`,
      );
    const [forbidden, absent] = await Promise.all([outcome(pay), outcome(nothing)]);
    expect(absent).toMatch(/^failed/);
    expect(forbidden).toBe(absent);
    // Not a refusal: the client was allowed its stream, only the resource is not there for it.
    expect(metrics.denials).toEqual({});
  }, 60_000);
});
