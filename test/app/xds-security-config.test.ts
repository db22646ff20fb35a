/**
 * The xDS port's security as `dns-eds serve` wires it from the config file: mTLS from `xds.tls` files
 * (certificates made with openssl), `xds.authorization` rules applied to a real grpc-js client and
 * changed by a reload, the transport shown in `/readyz`, and the loud warning for plaintext on an
 * address beyond loopback (decided from the config; tests bind loopback only).
 */
import { PassThrough } from "node:stream";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/admin/logger.js";
import { evaluateReadiness } from "../../src/admin/readiness.js";
import { type RunningControlPlane, startServer } from "../../src/app/serve.js";
import { startXdsTransport } from "../../src/app/xds-transport.js";
import { parseConfigText } from "../../src/config/load-config.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";
import { type Pem, TestCerts } from "../support/test-certs.js";
import { until } from "../support/wait-for.js";
import { RawXdsClient, sotwNames } from "../xds/raw-client.js";

const certs = new TestCerts("xds-security-");
let ca: Pem;
let web: Pem;
let app: RunningControlPlane;
const clients: Array<{ close(): void }> = [];

const config = (webClusters: string) => `
xds:
  listen: "127.0.0.1:0"
  tls: { certFile: server.crt, keyFile: server.key, caFile: ca.crt }
  authorization:
    rules:
      - identities: ["spiffe://test.example/ns/web/*"]
        nodeIds: ["web-*"]
        clusters: [${webClusters}]
admin: { listen: "127.0.0.1:0" }
dns: { servers: ["127.0.0.1:1"] }
clusters:
  - { name: web, static: [{ address: "10.0.0.1", port: 80 }] }
  - { name: web-canary, static: [{ address: "10.0.0.2", port: 80 }] }
  - { name: payments, static: [{ address: "10.0.0.3", port: 80 }] }
`;

function webClient(): RawXdsClient<"sotw"> {
  const c = new RawXdsClient("sotw", app.xdsPort, undefined, {
    credentials: grpc.credentials.createSsl(ca.cert, web.key, web.cert),
    channelOptions: { "grpc.use_local_subchannel_pool": 1 },
  });
  clients.push(c);
  return c;
}

beforeAll(async () => {
  ca = await certs.ca("ca");
  const server = await certs.leaf(ca, "server", { ips: ["127.0.0.1"] });
  web = await certs.leaf(ca, "web", { uris: ["spiffe://test.example/ns/web/sa/envoy"] });
  certs.file("server.crt", server.cert);
  certs.file("server.key", server.key);
  certs.file("ca.crt", ca.cert);
  app = await startServer(parseConfigText(config('"web", "web-*"'), { baseDir: certs.dir }), {
    logger: createLogger({ level: "silent" }),
  });
  // Static clusters are published by the endpoints stage shortly after start.
  await until(
    () => ["web", "web-canary", "payments"].every((n) => app.store.get(TYPE_URLS.cluster, n) !== undefined),
    10_000,
    "the three clusters published",
  );
}, 60_000);

afterAll(async () => {
  for (const c of clients) c.close();
  await app?.stop();
  certs.remove();
});

describe("xDS security from the config file", () => {
  it("serves mTLS with the configured rules, and /readyz says so", async () => {
    const c = webClient();
    c.send({ node: { id: "web-1" }, typeUrl: TYPE_URLS.cluster, resourceNames: [] });
    expect(sotwNames(await c.next())).toEqual(["web", "web-canary"]);
    const denied = webClient();
    denied.send({ node: { id: "payments-1" }, typeUrl: TYPE_URLS.cluster, resourceNames: [] });
    expect((await denied.status()).code).toBe(grpc.status.PERMISSION_DENIED);

    const report = await evaluateReadiness(app.adminProviders.readiness ?? []);
    expect(report.checks.find((x) => x.name === "xds-transport")).toEqual({
      name: "xds-transport",
      ok: true,
      reason: "mTLS with authorization (1 rule)",
    });
  });

  it("a reload changes the rules: the open stream whose rights changed is ended, its reconnect sees the new set", async () => {
    const c = webClient();
    c.send({ node: { id: "web-2" }, typeUrl: TYPE_URLS.cluster, resourceNames: [] });
    expect(sotwNames(await c.next())).toEqual(["web", "web-canary"]);
    const report = await app.reload(parseConfigText(config('"web"'), { baseDir: certs.dir }));
    expect(report.applied).toEqual(["xds.authorization"]);
    const s = await c.status();
    expect(s.code).toBe(grpc.status.UNAVAILABLE);
    const again = webClient();
    again.send({ node: { id: "web-2" }, typeUrl: TYPE_URLS.cluster, resourceNames: [] });
    expect(sotwNames(await again.next())).toEqual(["web"]);
  });

  it("plaintext beyond loopback is a loud warning and the /readyz reason; on loopback it is only noted", async () => {
    const lines: Array<{ level: number; msg: string }> = [];
    const destination = new PassThrough();
    destination.on("data", (d: Buffer) => {
      for (const l of d.toString().split("\n").filter(Boolean)) lines.push(JSON.parse(l));
    });
    const log = createLogger({ level: "info", destination });
    const base = (listen: string) =>
      parseConfigText(`xds: { listen: "${listen}" }\ndns: { servers: ["127.0.0.1:1"] }\nclusters: []\n`);
    const exposed = await startXdsTransport(base("0.0.0.0:18000"), log);
    await new Promise((r) => setImmediate(r));
    expect(exposed.exposedPlaintext).toBe(true);
    expect(exposed.summary).toMatch(/^PLAINTEXT on 0\.0\.0\.0:18000: anyone who can reach this port/);
    expect(lines.filter((l) => l.level === 40 && l.msg.includes("PLAINTEXT"))).toHaveLength(1);
    const v6 = await startXdsTransport(base("[::]:18000"), log);
    expect(v6.exposedPlaintext).toBe(true);
    const local = await startXdsTransport(base("127.0.0.1:18000"), log);
    expect(local.exposedPlaintext).toBe(false);
    expect(local.summary).toBe("plaintext on loopback (127.0.0.1:18000)");
  });
});
