/**
 * Who may read the admin port: a bearer token or mTLS (certificates made at test time with `openssl`),
 * a non-loopback address refused without either unless the config says so, and a cap on connections.
 * The last test runs `dns-eds serve` itself with a token file.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { request as httpsRequest } from "node:https";
import { connect, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AdminServer, startAdminServer } from "../../src/admin/admin-server.js";
import { createMetrics } from "../../src/admin/metrics.js";
import { parseConfigText } from "../../src/config/load-config.js";
import { buildDnsEds, type DnsEdsProcess, spawnDnsEds } from "../support/dns-eds-process.js";
import { type Pem, TestCerts } from "../support/test-certs.js";
import { waitFor } from "../support/wait-for.js";

const TOKEN = "t0ken-for-the-admin-port-42";
let certs: TestCerts;
let ca: Pem;
let serverPem: Pem;
let clientPem: Pem;
let otherClient: Pem;
const servers: AdminServer[] = [];
let workDir: string;

beforeAll(async () => {
  certs = new TestCerts("admin-auth-");
  ca = await certs.ca("admin-ca");
  const other = await certs.ca("other-ca");
  serverPem = await certs.leaf(ca, "admin-server", { ips: ["127.0.0.1"] });
  clientPem = await certs.leaf(ca, "operator", { uris: ["spiffe://test/operator"] });
  otherClient = await certs.leaf(other, "stranger", { uris: ["spiffe://test/stranger"] });
  workDir = mkdtempSync(join(tmpdir(), "dns-eds-admin-auth-"));
}, 60_000);

afterAll(async () => {
  for (const s of servers) await s.close();
  certs?.remove();
  rmSync(workDir, { recursive: true, force: true });
});

async function admin(opts: Partial<Parameters<typeof startAdminServer>[0]> = {}) {
  const metrics = createMetrics({ processMetrics: false });
  const s = await startAdminServer({
    listen: "127.0.0.1:0",
    registry: metrics.registry,
    readiness: [{ name: "etcd", check: () => ({ ok: true, reason: "connected to a secret place" }) }],
    onUnauthorized: () => metrics.adminUnauthorized(),
    ...opts,
  });
  servers.push(s);
  return { s, metrics };
}

const get = (url: string, token?: string) =>
  fetch(url, token ? { headers: { authorization: `Bearer ${token}` } } : {});

describe("bearer token", () => {
  it("refuses every path without the right token (401, counted) and serves it with the token", async () => {
    const { s, metrics } = await admin({ token: TOKEN });
    for (const path of ["/metrics", "/config_dump", "/clusters", "/"]) {
      const r = await get(`${s.url}${path}`);
      expect(r.status, path).toBe(401);
      expect(r.headers.get("www-authenticate")).toMatch(/^Bearer/);
      expect((await get(`${s.url}${path}`, "wrong-token")).status).toBe(401);
    }
    const ok = await get(`${s.url}/metrics`, TOKEN);
    expect(ok.status).toBe(200);
    expect(await ok.text()).toMatch(/^dnseds_admin_unauthorized_total 8$/m);
    expect(
      (await metrics.registry.getSingleMetricAsString("dnseds_admin_unauthorized_total")).trim(),
    ).toMatch(/ 8$/);
  });

  it("keeps /healthz and the status of /readyz open for probes, without the details", async () => {
    const { s } = await admin({ token: TOKEN });
    expect((await get(`${s.url}/healthz`)).status).toBe(200);
    const open = await get(`${s.url}/readyz`);
    expect(open.status).toBe(200);
    expect(await open.json()).toEqual({ ready: true });
    const full = (await (await get(`${s.url}/readyz`, TOKEN)).json()) as {
      checks: Array<{ reason: string }>;
    };
    expect(full.checks[0]?.reason).toBe("connected to a secret place");
  });
});

describe("mTLS", () => {
  const call = (url: string, client?: Pem): Promise<number> =>
    new Promise((resolve, reject) => {
      const req = httpsRequest(
        `${url}/metrics`,
        { ca: ca.cert, ...(client ? { cert: client.cert, key: client.key } : {}), agent: false },
        (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        },
      );
      req.on("error", reject);
      req.end();
    });

  it("lets in clients with a certificate from the CA, and no one else", async () => {
    const { s } = await admin({ tls: { cert: serverPem.cert, key: serverPem.key, ca: ca.cert } });
    expect(s.url).toMatch(/^https:/);
    expect(await call(s.url, clientPem)).toBe(200);
    await expect(call(s.url)).rejects.toThrow();
    await expect(call(s.url, otherClient)).rejects.toThrow();
  });
});

describe("connection cap", () => {
  it("closes connections over admin.maxConnections at accept, and takes new ones once others go", async () => {
    const { s } = await admin({ maxConnections: 3 });
    const port = Number(new URL(s.url).port);
    /** A kept-alive connection that got one answer, so the server has certainly accepted it. */
    const hold = (): Promise<{ sock: Socket; closed: () => boolean }> =>
      new Promise((resolve, reject) => {
        let closed = false;
        const sock = connect(port, "127.0.0.1", () =>
          sock.write("GET /healthz HTTP/1.1\r\nhost: admin\r\nconnection: keep-alive\r\n\r\n"),
        );
        sock.once("data", () => resolve({ sock, closed: () => closed }));
        sock.on("close", () => {
          closed = true;
          reject(new Error("closed before an answer"));
        });
        sock.on("error", () => undefined);
      });
    const held = [await hold(), await hold(), await hold()];
    await expect(hold()).rejects.toThrow(/closed before an answer/);
    expect(held.every((h) => !h.closed())).toBe(true);
    held[0]?.sock.destroy();
    await waitFor("a request served again", 5000, async () =>
      (await fetch(`${s.url}/healthz`).catch(() => undefined))?.status === 200 ? true : undefined,
    );
    for (const h of held) h.sock.destroy();
  });
});

describe("config", () => {
  const noResolvConf = { readResolvConf: () => undefined, fileReadable: () => true };
  it("refuses a non-loopback admin address without a token or mTLS, unless allowUnauthenticated", () => {
    expect(() => parseConfigText('admin: { listen: "0.0.0.0:19000" }\nclusters: []\n', noResolvConf)).toThrow(
      /admin\.listen: expected a loopback address, a token \(admin\.tokenFile\) or mTLS \(admin\.tls\.caFile\)/,
    );
    for (const extra of [
      "tokenFile: /etc/token",
      "tls: { certFile: c, keyFile: k, caFile: ca }",
      "allowUnauthenticated: true",
    ]) {
      expect(
        parseConfigText(`admin: { listen: "0.0.0.0:19000", ${extra} }\nclusters: []\n`, noResolvConf).admin
          .listen,
      ).toBe("0.0.0.0:19000");
    }
    // TLS without a client CA authenticates nobody.
    expect(() =>
      parseConfigText(
        'admin: { listen: "[::]:19000", tls: { certFile: c, keyFile: k } }\nclusters: []\n',
        noResolvConf,
      ),
    ).toThrow(/admin\.listen/);
    expect(
      parseConfigText('admin: { listen: "[::1]:19000" }\nclusters: []\n', noResolvConf).admin.maxConnections,
    ).toBe(64);
  });
});

describe("dns-eds serve with admin.tokenFile", () => {
  let p: DnsEdsProcess | undefined;
  afterAll(async () => {
    await p?.stop();
  });
  it("reads the token from the file and asks for it", async () => {
    const main = await buildDnsEds("admin-auth-");
    const tokenFile = join(workDir, "admin-token");
    writeFileSync(tokenFile, `${TOKEN}\n`);
    const config = join(workDir, "dns-eds.yaml");
    writeFileSync(
      config,
      [
        `admin: { listen: "127.0.0.1:0", tokenFile: ${JSON.stringify(tokenFile)} }`,
        'xds: { listen: "127.0.0.1:0" }',
        'dns: { servers: ["127.0.0.1:9"], timeoutMs: 100, attempts: 1 }',
        "clusters: [{ name: s, static: [{ address: 127.0.0.1, port: 9 }] }]",
        "",
      ].join("\n"),
    );
    p = await spawnDnsEds({ main, config, cwd: workDir });
    expect((await get(`${p.adminUrl}/clusters`)).status).toBe(401);
    expect((await get(`${p.adminUrl}/clusters`, TOKEN)).status).toBe(200);
    expect((await get(`${p.adminUrl}/healthz`)).status).toBe(200);
  }, 90_000);
});
