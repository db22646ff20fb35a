/**
 * Health checks over TLS with real certificates made at test time (`openssl`): HTTPS and gRPC checks
 * verify the backend's certificate by default (they used to accept anything, so whatever answered on
 * the address passed), for the configured name or the endpoint's DNS name, against `caFile` or Node's
 * CA store, and present a client certificate to backends that require one.
 */
import { createServer as createHttpsServer, type Server as HttpsServer } from "node:https";
import type { AddressInfo } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGrpcProber, type GrpcProber } from "../../src/health/grpc-check.js";
import { httpProbe } from "../../src/health/http-check.js";
import type { ProbeResult } from "../../src/health/probe.js";
import type { ProbeTlsSpec } from "../../src/health/probe-tls.js";
import type { HealthCheckSpec } from "../../src/health/types.js";
import { healthCheckSpec } from "../support/health-check-spec.js";
import { type Pem, TestCerts } from "../support/test-certs.js";

let certs: TestCerts;
let ca: Pem;
let otherCa: Pem;
let client: Pem;
const servers: HttpsServer[] = [];
let grpcServer: grpc.Server;
let httpsPort = 0;
let mtlsPort = 0;
let grpcPort = 0;
let prober: GrpcProber;

async function listenHttps(opts: Parameters<typeof createHttpsServer>[0]): Promise<number> {
  const s = createHttpsServer(opts, (_req, res) => {
    res.writeHead(200);
    res.end("ok");
  });
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", r));
  servers.push(s);
  return (s.address() as AddressInfo).port;
}

beforeAll(async () => {
  certs = new TestCerts("health-tls-");
  ca = await certs.ca("backends-ca");
  otherCa = await certs.ca("unrelated-ca");
  const server = await certs.leaf(ca, "backend", { dns: ["backend.test"], ips: ["127.0.0.1"] });
  client = await certs.leaf(ca, "prober", { uris: ["spiffe://test/dns-eds"] });
  httpsPort = await listenHttps({ cert: server.cert, key: server.key });
  mtlsPort = await listenHttps({
    cert: server.cert,
    key: server.key,
    ca: ca.cert,
    requestCert: true,
    rejectUnauthorized: true,
  });
  grpcServer = new grpc.Server();
  grpcServer.register(
    "/grpc.health.v1.Health/Check",
    (_call: unknown, cb: (err: null, value: Buffer) => void) => cb(null, Buffer.from([0x08, 0x01])),
    (b: Buffer) => b,
    (b: Buffer) => b,
    "unary",
  );
  grpcPort = await new Promise<number>((resolve, reject) =>
    grpcServer.bindAsync(
      "127.0.0.1:0",
      grpc.ServerCredentials.createSsl(null, [{ cert_chain: server.cert, private_key: server.key }], false),
      (err, port) => (err ? reject(err) : resolve(port)),
    ),
  );
  prober = createGrpcProber({ reconnectBackoffMs: 100 });
}, 60_000);

afterAll(async () => {
  prober?.close();
  for (const s of servers) s.close();
  grpcServer?.forceShutdown();
  certs?.remove();
});

const spec = (type: HealthCheckSpec["type"], tls?: ProbeTlsSpec): HealthCheckSpec =>
  healthCheckSpec({ type, timeoutMs: 2000, intervalMs: 5000, ...(tls ? { tls } : {}) });

const https = (port: number, tls?: ProbeTlsSpec, host?: string): Promise<ProbeResult> =>
  httpProbe(
    { address: "127.0.0.1", port, ...(host ? { host } : {}) },
    spec("https", tls),
    new AbortController().signal,
  );

const grpcCheck = (tls?: ProbeTlsSpec): Promise<ProbeResult> =>
  prober.probe({ address: "127.0.0.1", port: grpcPort }, spec("grpc", tls), new AbortController().signal);

const code = (r: ProbeResult) => (r.ok ? "ok" : r.code);

describe("HTTPS health checks", () => {
  it("verify the certificate by default: a CA the checker was not given fails with ERR_HEALTH_TLS", async () => {
    const r = await https(httpsPort);
    expect(code(r)).toBe("ERR_HEALTH_TLS");
    expect(r.ok ? true : r.hard).toBe(true);
  });

  it("pass with the backends' CA, checking the IP or the endpoint's DNS name", async () => {
    expect(code(await https(httpsPort, { caFile: ca.certFile }))).toBe("ok");
    expect(code(await https(httpsPort, { caFile: ca.certFile }, "backend.test."))).toBe("ok");
  });

  it("fail when the certificate is for another name, or signed by another CA", async () => {
    expect(code(await https(httpsPort, { caFile: ca.certFile, serverName: "other.test" }))).toBe(
      "ERR_HEALTH_TLS",
    );
    expect(code(await https(httpsPort, { caFile: ca.certFile }, "other.test."))).toBe("ERR_HEALTH_TLS");
    expect(code(await https(httpsPort, { caFile: otherCa.certFile }))).toBe("ERR_HEALTH_TLS");
    expect(code(await https(httpsPort, { caFile: ca.certFile, serverName: "backend.test" }))).toBe("ok");
  });

  it("insecureSkipVerify accepts any certificate, as it says", async () => {
    expect(code(await https(httpsPort, { insecureSkipVerify: true }))).toBe("ok");
  });

  it("present a client certificate to a backend that requires one", async () => {
    expect(code(await https(mtlsPort, { caFile: ca.certFile }))).not.toBe("ok");
    expect(
      code(
        await https(mtlsPort, { caFile: ca.certFile, certFile: client.certFile, keyFile: client.keyFile }),
      ),
    ).toBe("ok");
  });
});

describe("gRPC health checks over TLS", () => {
  it("are SERVING with the backends' CA", async () => {
    expect(code(await grpcCheck({ caFile: ca.certFile }))).toBe("ok");
  });

  it("fail with ERR_HEALTH_TLS against a CA the checker was not given, or for another name", async () => {
    prober.release({ address: "127.0.0.1", port: grpcPort });
    expect(code(await grpcCheck({ caFile: otherCa.certFile }))).toBe("ERR_HEALTH_TLS");
    expect(code(await grpcCheck({}))).toBe("ERR_HEALTH_TLS");
    expect(code(await grpcCheck({ caFile: ca.certFile, serverName: "other.test" }))).toBe("ERR_HEALTH_TLS");
    expect(code(await grpcCheck({ caFile: ca.certFile, serverName: "backend.test" }))).toBe("ok");
  });

  it("without tls the check speaks plaintext, which a TLS backend does not answer", async () => {
    prober.release({ address: "127.0.0.1", port: grpcPort });
    expect(code(await grpcCheck())).not.toBe("ok");
  });
});
