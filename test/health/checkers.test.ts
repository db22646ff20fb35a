/** TCP, HTTP(S) and gRPC health checkers against real servers on 127.0.0.x and ::1. */
import { execFileSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createServer as createHttpServer, type Server as HttpServer } from "node:http";
import { createServer as createHttpsServer } from "node:https";
import { createServer, type Server } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  Server as GrpcServer,
  ServerCredentials,
  type ServerUnaryCall,
  type sendUnaryData,
} from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createGrpcProber, decodeHealthResponse, encodeHealthRequest } from "../../src/health/grpc-check.js";
import { httpProbe } from "../../src/health/http-check.js";
import type { ProbeResult } from "../../src/health/probe.js";
import { tcpProbe } from "../../src/health/tcp-check.js";
import { healthCheckSpec } from "../support/health-check-spec.js";

const spec = healthCheckSpec;
const signal = () => new AbortController().signal;
const listen = (s: Server | HttpServer, host: string): Promise<number> =>
  new Promise((resolve, reject) => {
    s.once("error", reject);
    s.listen(0, host, () => {
      const addr = s.address();
      resolve(typeof addr === "object" && addr ? addr.port : 0);
    });
  });
const close = (s: Server | HttpServer) => new Promise<void>((r) => s.close(() => r()));
/** A port that was free a moment ago: bound then released, so connecting is refused. */
async function deadPort(host: string): Promise<number> {
  const s = createServer();
  const p = await listen(s, host);
  await close(s);
  return p;
}
const code = (r: ProbeResult) => (r.ok ? "ok" : `${r.code}${r.hard ? " hard" : ""}`);

describe("tcp check", () => {
  const servers: Server[] = [];
  afterAll(async () => {
    for (const s of servers) await close(s);
  });
  for (const host of ["127.0.0.2", "::1"]) {
    it(`succeeds against a listening socket on ${host} and fails hard when refused`, async () => {
      const s = createServer((c) => c.end());
      servers.push(s);
      const port = await listen(s, host);
      expect(code(await tcpProbe({ address: host, port }, spec(), signal()))).toBe("ok");
      const dead = await deadPort(host);
      expect(code(await tcpProbe({ address: host, port: dead }, spec(), signal()))).toBe(
        "ERR_HEALTH_REFUSED hard",
      );
    });
  }
  it("reports an abort", async () => {
    const ac = new AbortController();
    ac.abort();
    expect(code(await tcpProbe({ address: "127.0.0.1", port: 1 }, spec(), ac.signal))).toBe(
      "ERR_HEALTH_ABORTED",
    );
  });
});

describe("http check", () => {
  let server: HttpServer;
  let port = 0;
  let statusFor: (path: string) => number = () => 200;
  beforeAll(async () => {
    server = createHttpServer((req, res) => {
      if (req.url === "/hang") return; // never answers: a timeout
      res.statusCode = statusFor(req.url ?? "");
      res.end("x");
    });
    port = await listen(server, "127.0.0.3");
  });
  afterAll(async () => {
    server.closeAllConnections();
    await close(server);
  });
  const t = () => ({ address: "127.0.0.3", port });

  it("accepts 2xx/3xx by default and fails hard on another status", async () => {
    statusFor = () => 204;
    expect(code(await httpProbe(t(), spec({ type: "http", path: "/healthz" }), signal()))).toBe("ok");
    statusFor = () => 503;
    const r = await httpProbe(t(), spec({ type: "http", path: "/healthz" }), signal());
    expect(code(r)).toBe("ERR_HEALTH_STATUS hard");
    expect(!r.ok && r.detail).toContain("503");
  });
  it("honours expected statuses and the path", async () => {
    statusFor = (p) => (p === "/ready" ? 418 : 200);
    expect(
      code(await httpProbe(t(), spec({ type: "http", path: "/ready", expectedStatuses: [418] }), signal())),
    ).toBe("ok");
    expect(
      code(await httpProbe(t(), spec({ type: "http", path: "/other", expectedStatuses: [418] }), signal())),
    ).toBe("ERR_HEALTH_STATUS hard");
  });
  it("times out softly when the server does not answer", async () => {
    expect(code(await httpProbe(t(), spec({ type: "http", path: "/hang", timeoutMs: 200 }), signal()))).toBe(
      "ERR_HEALTH_TIMEOUT",
    );
  });
  it("fails hard when refused", async () => {
    const dead = await deadPort("127.0.0.3");
    expect(
      code(await httpProbe({ address: "127.0.0.3", port: dead }, spec({ type: "http" }), signal())),
    ).toBe("ERR_HEALTH_REFUSED hard");
  });
});

describe("https check", () => {
  let dir = "";
  let server: HttpServer;
  let port = 0;
  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), "dns-eds-https-"));
    execFileSync(
      "openssl",
      [
        "req",
        "-x509",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-days",
        "1",
        "-subj",
        "/CN=backend.test",
        "-keyout",
        join(dir, "key.pem"),
        "-out",
        join(dir, "cert.pem"),
      ],
      { stdio: "ignore" },
    );
    server = createHttpsServer(
      { key: readFileSync(join(dir, "key.pem")), cert: readFileSync(join(dir, "cert.pem")) },
      (req, res) => {
        res.statusCode = req.url === "/ok" ? 200 : 500;
        res.end();
      },
    );
    port = await listen(server, "::1");
  });
  afterAll(async () => {
    await close(server);
    rmSync(dir, { recursive: true, force: true });
  });
  it("checks over TLS on ::1 with a self-signed certificate (verification off, as the check says)", async () => {
    // Verification is on by default (test/health/tls-checks.test.ts): a self-signed certificate fails it.
    expect(
      code(await httpProbe({ address: "::1", port }, spec({ type: "https", path: "/ok" }), signal())),
    ).toBe("ERR_HEALTH_TLS hard");
    const insecure = { insecureSkipVerify: true };
    expect(
      code(
        await httpProbe(
          { address: "::1", port },
          spec({ type: "https", path: "/ok", tls: insecure }),
          signal(),
        ),
      ),
    ).toBe("ok");
    expect(
      code(
        await httpProbe(
          { address: "::1", port },
          spec({ type: "https", path: "/bad", tls: insecure }),
          signal(),
        ),
      ),
    ).toBe("ERR_HEALTH_STATUS hard");
  });
});

describe("grpc check", () => {
  it("encodes and decodes the one-field messages", () => {
    expect(encodeHealthRequest("")).toEqual(Buffer.alloc(0));
    expect(encodeHealthRequest("pay")).toEqual(Buffer.from([0x0a, 3, 0x70, 0x61, 0x79]));
    expect(encodeHealthRequest("x".repeat(200)).subarray(0, 3)).toEqual(Buffer.from([0x0a, 0xc8, 0x01]));
    expect(decodeHealthResponse(Buffer.from([0x08, 0x02]))).toBe(2);
    expect(decodeHealthResponse(Buffer.alloc(0))).toBe(0);
    expect(decodeHealthResponse(Buffer.from([0x12, 0x01, 0x00, 0x08, 0x01]))).toBe(1);
    expect(() => decodeHealthResponse(Buffer.from([0x08]))).toThrow();
  });

  const servers: GrpcServer[] = [];
  const prober = createGrpcProber({ reconnectBackoffMs: 100 });
  afterAll(() => {
    prober.close();
    for (const s of servers) s.forceShutdown();
  });
  const start = (host: string, setup: (s: GrpcServer) => void): Promise<number> => {
    const s = new GrpcServer();
    setup(s);
    servers.push(s);
    return new Promise((resolve, reject) =>
      s.bindAsync(
        `${host.includes(":") ? `[${host}]` : host}:0`,
        ServerCredentials.createInsecure(),
        (e, p) => (e ? reject(e) : resolve(p)),
      ),
    );
  };

  for (const host of ["127.0.0.4", "::1"]) {
    it(`follows SERVING → NOT_SERVING → SERVING of a real grpc-health-check server on ${host}`, async () => {
      const health = new HealthImplementation({ "": "SERVING", pay: "SERVING" });
      const port = await start(host, (s) => health.addToServer(s));
      const t = { address: host, port };
      const g = spec({ type: "grpc", grpcService: "pay" });
      expect(code(await prober.probe(t, g, signal()))).toBe("ok");
      health.setStatus("pay", "NOT_SERVING");
      expect(code(await prober.probe(t, g, signal()))).toBe("ERR_HEALTH_NOT_SERVING hard");
      expect(code(await prober.probe(t, spec({ type: "grpc" }), signal()))).toBe("ok");
      health.setStatus("pay", "SERVING");
      expect(code(await prober.probe(t, g, signal()))).toBe("ok");
      expect(code(await prober.probe(t, spec({ type: "grpc", grpcService: "nope" }), signal()))).toBe(
        "ERR_HEALTH_NOT_SERVING hard",
      );
      prober.release(t);
    });
  }

  it("fails hard when nothing listens and softly when the server stalls past the timeout", async () => {
    const dead = await deadPort("127.0.0.4");
    expect(
      code(await prober.probe({ address: "127.0.0.4", port: dead }, spec({ type: "grpc" }), signal())),
    ).toBe("ERR_HEALTH_REFUSED hard");
    // A real server cannot be made to stall, so this one registers Check by hand and never answers.
    const port = await start("127.0.0.4", (s) =>
      s.register(
        "/grpc.health.v1.Health/Check",
        (_call: ServerUnaryCall<Buffer, Buffer>, _cb: sendUnaryData<Buffer>) => {},
        (b: Buffer) => b,
        (b: Buffer) => b,
        "unary",
      ),
    );
    expect(
      code(
        await prober.probe({ address: "127.0.0.4", port }, spec({ type: "grpc", timeoutMs: 300 }), signal()),
      ),
    ).toBe("ERR_HEALTH_TIMEOUT");
  });
  it("a server without the health service fails hard (UNIMPLEMENTED)", async () => {
    const port = await start("127.0.0.4", () => {});
    expect(code(await prober.probe({ address: "127.0.0.4", port }, spec({ type: "grpc" }), signal()))).toBe(
      "ERR_HEALTH_NOT_SERVING hard",
    );
  });
});
