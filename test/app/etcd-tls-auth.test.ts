/**
 * etcd transport: a real etcd serving TLS with a certificate from a CA made at test time (`openssl`),
 * with user authentication on. dns-eds connects with `tls.caFile` and a password; a wrong password or
 * a CA it does not trust keeps it out; without `caFile` it uses the system roots (here: Node's CA
 * store plus NODE_EXTRA_CA_CERTS) — it used to pass an empty root list, with which no etcd
 * certificate could ever verify.
 */
import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/admin/logger.js";
import { type RunningControlPlane, startServer } from "../../src/app/serve.js";
import { parseConfigObject } from "../../src/config/load-config.js";
import { freePort } from "../support/etcd-server.js";
import { type Pem, TestCerts } from "../support/test-certs.js";
import { waitFor } from "../support/wait-for.js";

const PASSWORD = "s3cret-test-pw";

let certs: TestCerts;
let ca: Pem;
let otherCa: Pem;
let dataDir: string;
let workDir: string;
let etcdProc: ChildProcess | undefined;
let endpoint = "";
const planes: RunningControlPlane[] = [];

function etcdctl(args: string[]): string {
  return execFileSync("etcdctl", ["--endpoints", endpoint, "--cacert", ca.certFile, ...args], {
    env: { ...process.env, ETCDCTL_API: "3" },
    timeout: 10_000,
  }).toString();
}

beforeAll(async () => {
  certs = new TestCerts("etcd-tls-");
  ca = await certs.ca("etcd-ca");
  otherCa = await certs.ca("unrelated-ca");
  const server = await certs.leaf(ca, "etcd-server", { ips: ["127.0.0.1"] });
  dataDir = mkdtempSync(join(tmpdir(), "dns-eds-etcd-tls-"));
  workDir = mkdtempSync(join(tmpdir(), "dns-eds-etcd-tls-work-"));
  const clientPort = await freePort();
  const peerPort = await freePort();
  endpoint = `https://127.0.0.1:${clientPort}`;
  etcdProc = spawn(
    "etcd",
    [
      "--name",
      "tls",
      "--data-dir",
      dataDir,
      "--listen-client-urls",
      endpoint,
      "--advertise-client-urls",
      endpoint,
      "--listen-peer-urls",
      `http://127.0.0.1:${peerPort}`,
      "--initial-advertise-peer-urls",
      `http://127.0.0.1:${peerPort}`,
      "--initial-cluster",
      `tls=http://127.0.0.1:${peerPort}`,
      "--cert-file",
      server.certFile,
      "--key-file",
      server.keyFile,
    ],
    { stdio: ["ignore", "ignore", "ignore"] },
  );
  // A read that succeeds over TLS (etcdctl prints `endpoint health` on stderr).
  await waitFor("etcd over TLS answering", 20_000, async () => {
    etcdctl(["get", "probe"]);
    return true;
  });
  etcdctl(["role", "add", "root"]);
  etcdctl(["user", "add", "root", "--new-user-password", PASSWORD]);
  etcdctl(["user", "grant-role", "root", "root"]);
  etcdctl(["auth", "enable"]);
}, 60_000);

afterAll(async () => {
  for (const p of planes) await p.stop();
  etcdProc?.kill("SIGKILL");
  rmSync(dataDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
  certs?.remove();
});

function captureLogs() {
  const lines: string[] = [];
  const stream = new PassThrough();
  stream.on("data", (c: Buffer) => lines.push(...c.toString().split("\n").filter(Boolean)));
  return { lines, logger: createLogger({ level: "debug", destination: stream }) };
}

async function plane(etcd: Record<string, unknown>) {
  const { lines, logger } = captureLogs();
  const config = parseConfigObject({
    xds: { listen: "127.0.0.1:0" },
    admin: { listen: "127.0.0.1:0" },
    dns: { servers: ["127.0.0.1:9"], timeoutMs: 100, attempts: 1 },
    cache: { etcd: { endpoints: [endpoint], prefix: "/tls-test/", dialTimeoutMs: 2000, ...etcd } },
    clusters: [{ name: "s", static: [{ address: "127.0.0.1", port: 9 }] }],
  });
  const p = await startServer(config, { logger });
  planes.push(p);
  return { p, lines };
}

describe("etcd over TLS with user authentication", () => {
  it("connects with caFile and the right password, and shares its state there", async () => {
    const { p } = await plane({
      tls: { caFile: ca.certFile },
      auth: { username: "root", password: PASSWORD },
    });
    await waitFor("etcd connected", 15_000, async () =>
      p.cache.status().etcd === "connected" ? true : undefined,
    );
    // The replica announced itself: etcd holds its member key.
    await waitFor("its member key in etcd", 10_000, async () =>
      /members\//.test(
        etcdctl(["--user", `root:${PASSWORD}`, "get", "--prefix", "/tls-test/v1/members/", "--keys-only"]),
      )
        ? true
        : undefined,
    );
  });

  it("stays out with a wrong password", async () => {
    const { p, lines } = await plane({
      tls: { caFile: ca.certFile },
      auth: { username: "root", password: "wrong" },
    });
    await waitFor("an authentication failure in the log", 15_000, async () =>
      lines.some((l) => /authentication failed|invalid auth/i.test(l)) ? true : undefined,
    );
    expect(p.cache.status().etcd).toBe("degraded");
  });

  it("does not trust a server certificate from a CA it was not given", async () => {
    const { p, lines } = await plane({
      tls: { caFile: otherCa.certFile },
      auth: { username: "root", password: PASSWORD },
    });
    // grpc-js reports a failed TLS handshake as "No connection established"; the same etcd, password
    // and options with the right CA connect (first test), so the CA is what keeps this one out.
    await waitFor("three failed connection attempts", 20_000, async () =>
      lines.filter((l) => /etcd reconcile failed/.test(l) && /No connection established/.test(l)).length >= 3
        ? true
        : undefined,
    );
    expect(p.cache.status().etcd).toBe("degraded");
  });

  it("without caFile, verifies against Node's default CA store (bundled roots plus NODE_EXTRA_CA_CERTS)", async () => {
    const before = process.env.NODE_EXTRA_CA_CERTS;
    try {
      // Not trusted: the test CA is in no default store.
      delete process.env.NODE_EXTRA_CA_CERTS;
      const untrusted = await plane({ tls: {}, auth: { username: "root", password: PASSWORD } });
      await waitFor("failed connection attempts without the CA", 20_000, async () =>
        untrusted.lines.filter((l) => /etcd reconcile failed/.test(l) && /No connection established/.test(l))
          .length >= 3
          ? true
          : undefined,
      );
      expect(untrusted.p.cache.status().etcd).toBe("degraded");
      // Trusted once the CA is among the default roots, as an operator adds a private CA for Node.
      process.env.NODE_EXTRA_CA_CERTS = ca.certFile;
      const trusted = await plane({ tls: {}, auth: { username: "root", password: PASSWORD } });
      await waitFor("etcd connected through the default store", 15_000, async () =>
        trusted.p.cache.status().etcd === "connected" ? true : undefined,
      );
    } finally {
      if (before === undefined) delete process.env.NODE_EXTRA_CA_CERTS;
      else process.env.NODE_EXTRA_CA_CERTS = before;
    }
  });
});
