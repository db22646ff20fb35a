/**
 * CSDS behind the xDS authorization, over mTLS with certificates made by openssl at test time: a client
 * sees only the clients admitted with its own identity, an operator identity sees every client (also
 * through `dns-eds status --ca --cert --key`), and a caller whose certificate matches no rule is
 * refused with PERMISSION_DENIED (and counted like a refused stream).
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CsdsClientError, fetchClientStatus } from "../../src/cli/csds-client.js";
import { buildProgram } from "../../src/cli/program.js";
import type { AuthorizationRule } from "../../src/xds/authorization.js";
import { CertificateFiles } from "../../src/xds/certificate-files.js";
import type { ResourceStore } from "../../src/xds/resource-store.js";
import type { XdsServer } from "../../src/xds/server.js";
import { type Pem, TestCerts } from "../support/test-certs.js";
import { until } from "../support/wait-for.js";
import { node, putCla, type RecordingMetrics, startServer, T } from "../xds/harness.js";
import { RawXdsClient } from "../xds/raw-client.js";

const RULES: AuthorizationRule[] = [
  { identities: ["spiffe://csds.test/ns/web/*"], nodeIds: ["web-*"], clusters: ["web"] },
  { identities: ["spiffe://csds.test/ns/pay/sa/envoy"], nodeIds: ["pay-*"], clusters: ["pay"] },
  { identities: ["*.ops.csds.test"], nodeIds: ["*"], clusters: ["*"], operator: true },
];

const certs = new TestCerts("csds-authz-");
let ca: Pem;
const leaf = {} as Record<"server" | "web" | "pay" | "ops" | "stranger", Pem>;
let store: ResourceStore;
let server: XdsServer;
let metrics: RecordingMetrics;
let port: number;
const open: RawXdsClient<"sotw">[] = [];

const tls = (who: Pem) => ({ ca: ca.cert, cert: who.cert, key: who.key });

beforeAll(async () => {
  ca = await certs.ca("ca");
  leaf.server = await certs.leaf(ca, "server", { dns: ["localhost"], ips: ["127.0.0.1"] });
  leaf.web = await certs.leaf(ca, "web", { uris: ["spiffe://csds.test/ns/web/sa/envoy"] });
  leaf.pay = await certs.leaf(ca, "pay", { uris: ["spiffe://csds.test/ns/pay/sa/envoy"] });
  leaf.ops = await certs.leaf(ca, "ops", { dns: ["console.ops.csds.test"] });
  leaf.stranger = await certs.leaf(ca, "stranger", { uris: ["spiffe://csds.test/ns/other/sa/x"] });
  const files = await CertificateFiles.load({
    certFile: leaf.server.certFile,
    keyFile: leaf.server.keyFile,
    caFile: ca.certFile,
  });
  ({ store, server, metrics, port } = await startServer({
    credentials: files.credentials(),
    authorization: RULES,
  }));
  putCla(store, "web", "10.8.0.1");
  putCla(store, "pay", "10.8.0.2");
  for (const [who, id, name] of [
    [leaf.web, "web-1", "web"],
    [leaf.pay, "pay-1", "pay"],
  ] as const) {
    const c = new RawXdsClient("sotw", port, undefined, {
      credentials: grpc.credentials.createSsl(ca.cert, who.key, who.cert),
      channelOptions: { "grpc.use_local_subchannel_pool": 1 },
    });
    open.push(c);
    c.send({ node: node(id), typeUrl: T.endpoint, resourceNames: [name] });
    const r = await c.next();
    c.send({
      typeUrl: T.endpoint,
      resourceNames: [name],
      versionInfo: r.versionInfo,
      responseNonce: r.nonce,
    });
  }
  await until(() => server.clients().length === 2, 5_000, "two clients");
}, 60_000);

afterAll(async () => {
  for (const c of open) c.close();
  await server?.shutdown(500);
  certs.remove();
});

const ids = async (who: Pem) =>
  (await fetchClientStatus(`127.0.0.1:${port}`, { tls: tls(who) })).config.map((c) => c.node?.id);

describe("CSDS behind authorization", () => {
  it("a client sees only the clients of its own identity", async () => {
    expect(await ids(leaf.web)).toEqual(["web-1"]);
    expect(await ids(leaf.pay)).toEqual(["pay-1"]);
  });

  it("an operator identity sees every client, also through dns-eds status", async () => {
    expect(await ids(leaf.ops)).toEqual(["pay-1", "web-1"]);
    let out = "";
    let code = -1;
    const program = await buildProgram({
      out: (t) => {
        out += t;
      },
      err: () => {},
      exit: (c) => {
        code = c;
      },
    });
    const ops = leaf.ops as Pem;
    await program.parseAsync([
      "node",
      "dns-eds",
      "status",
      "-s",
      `127.0.0.1:${port}`,
      "--ca",
      ca.certFile,
      "--cert",
      ops.certFile,
      "--key",
      ops.keyFile,
    ]);
    expect(code).toBe(0);
    expect(out).toMatch(/^pay-1\s/m);
    expect(out).toMatch(/^web-1\s/m);
  });

  it("a certificate that matches no rule is refused with PERMISSION_DENIED and counted", async () => {
    const before = metrics.denials["unknown-identity"] ?? 0;
    const refused = fetchClientStatus(`127.0.0.1:${port}`, { tls: tls(leaf.stranger as Pem) });
    await expect(refused).rejects.toBeInstanceOf(CsdsClientError);
    await expect(refused).rejects.toMatchObject({ grpcCode: grpc.status.PERMISSION_DENIED });
    expect(metrics.denials["unknown-identity"] ?? 0).toBeGreaterThan(before);
  });
});
