/**
 * Test helper: runs a real BIND 9 (`/usr/sbin/named -g`) as an authoritative server on 127.0.0.1 (and
 * optionally ::1) on a free high port, with zone files written by the test into a private temp dir.
 *
 * Usage:
 *   const bind = await startBindServer({ zones: [{ origin: "example.test", records: "api 30 IN A 127.0.0.5" }] });
 *   bind.server            // "127.0.0.1:PORT", for ResolverOptions.servers
 *   await bind.setZone({ origin: "example.test", records: "api 30 IN A 127.0.0.6" }); // resolves once served
 *   await bind.stop();     // always call in afterAll
 *
 * Every zone gets an SOA (serial bumped on each rewrite, so reloads are deterministic) and an NS record;
 * `records` is the rest of the zone file, with names relative to the origin. A rewrite reloads named
 * with SIGHUP and waits until the new serial is served, so the next query sees the new data.
 *
 * With `forwardZones`, named is also a recursive server (loopback clients only) that forwards those
 * zones to another server, e.g. a second startBindServer: a caching resolver, as `dns.servers` usually
 * is in production, which fills the additional section from its cache (records outside the answering
 * zone's bailiwick included) and keeps answers until their TTL runs out.
 */
import { type ChildProcess, spawn } from "node:child_process";
import dgram from "node:dgram";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import dnsPacket from "dns-packet";

export interface BindZone {
  /** Zone apex, e.g. "example.test" (trailing dot optional). */
  origin: string;
  /** Zone file lines after SOA/NS, names relative to the origin (e.g. "api 30 IN A 127.0.0.5"). */
  records: string;
  /** $TTL default for records without one (default 300). */
  defaultTtl?: number;
  /** TTL of the SOA record itself (default 60). */
  soaTtl?: number;
  /** SOA MINIMUM, the negative-caching TTL (default 30). */
  negativeTtl?: number;
}

export interface BindForwardZone {
  /** Zone apex to forward, e.g. "example.test". */
  origin: string;
  /** "127.0.0.1:PORT" of the server to forward to. */
  to: string;
}

export interface BindServerOptions {
  zones: BindZone[];
  /** Zones this named resolves recursively by forwarding (and caches); turns recursion on. */
  forwardZones?: BindForwardZone[];
  /** Also listen on ::1 (same port). Default false. */
  ipv6?: boolean;
  /** Path to named; default /usr/sbin/named, or $NAMED_BIN. */
  namedBin?: string;
  /** Max time to wait for named to answer after start (ms). Default 15,000. */
  startTimeoutMs?: number;
  /** Listen on this port (e.g. one a running client already points at); default a free one. */
  port?: number;
}

export interface BindServer {
  host: string;
  port: number;
  /** "127.0.0.1:PORT" */
  server: string;
  /** "[::1]:PORT" when ipv6 was requested. */
  server6?: string;
  /** Temp dir holding named.conf and zone files. */
  dir: string;
  /** Rewrites one zone (new or existing), reloads named and waits until the new data is served. */
  setZone(zone: BindZone): Promise<void>;
  /** Stops named (SIGTERM, then SIGKILL) and removes the temp dir. Idempotent. */
  stop(): Promise<void>;
  /** named's stderr so far, for debugging failed tests. */
  log(): string;
}

const START_ATTEMPTS = 5;
const POLL_INTERVAL_MS = 100;

function fqdn(name: string): string {
  return name.endsWith(".") ? name : `${name}.`;
}

/** Picks a port that is free for both UDP and TCP on 127.0.0.1 right now (named may still race; we retry). */
async function pickPort(): Promise<number> {
  for (let i = 0; i < 50; i++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    const ok = await new Promise<boolean>((resolve) => {
      const srv = net.createServer();
      srv.once("error", () => resolve(false));
      srv.listen(port, "127.0.0.1", () => {
        const sock = dgram.createSocket("udp4");
        sock.once("error", () => {
          sock.close();
          srv.close(() => resolve(false));
        });
        sock.bind(port, "127.0.0.1", () => {
          sock.close();
          srv.close(() => resolve(true));
        });
      });
    });
    if (ok) return port;
  }
  throw new Error("bind-server: no free port found");
}

/** Sends one SOA query over UDP and returns the serial, or undefined on timeout/error. */
export async function querySoaSerial(
  host: string,
  port: number,
  origin: string,
  timeoutMs = 300,
  rd = false,
) {
  return new Promise<number | undefined>((resolve) => {
    const sock = dgram.createSocket(host.includes(":") ? "udp6" : "udp4");
    const timer = setTimeout(() => finish(undefined), timeoutMs);
    const finish = (v: number | undefined) => {
      clearTimeout(timer);
      try {
        sock.close();
      } catch {}
      resolve(v);
    };
    sock.on("error", () => finish(undefined));
    sock.on("message", (msg) => {
      try {
        const p = dnsPacket.decode(msg);
        const soa = p.answers?.find((a) => a.type === "SOA");
        finish(soa && soa.type === "SOA" ? soa.data.serial : undefined);
      } catch {
        finish(undefined);
      }
    });
    const q = dnsPacket.encode({
      type: "query",
      id: Math.floor(Math.random() * 65535),
      flags: rd ? dnsPacket.RECURSION_DESIRED : 0,
      questions: [{ type: "SOA", name: origin.replace(/\.$/, "") }],
    });
    sock.send(q, port, host);
  });
}

function zoneFile(zone: BindZone, serial: number): string {
  const origin = fqdn(zone.origin);
  return [
    `$ORIGIN ${origin}`,
    `$TTL ${zone.defaultTtl ?? 300}`,
    `@ ${zone.soaTtl ?? 60} IN SOA ns.${origin} hostmaster.${origin} ${serial} 3600 600 86400 ${zone.negativeTtl ?? 30}`,
    "@ 300 IN NS ns",
    "ns 300 IN A 127.0.0.1",
    zone.records,
    "",
  ].join("\n");
}

function namedConf(
  dir: string,
  port: number,
  ipv6: boolean,
  origins: string[],
  forwards: readonly BindForwardZone[],
): string {
  const zones = [
    ...origins.map(
      (o) => `zone "${fqdn(o)}" { type primary; file "${zonePath(dir, o)}"; max-records-per-type 0; };`,
    ),
    ...forwards.map((f) => {
      const [host, fport] = [f.to.slice(0, f.to.lastIndexOf(":")), f.to.slice(f.to.lastIndexOf(":") + 1)];
      return `zone "${fqdn(f.origin)}" { type forward; forward only; forwarders { ${host} port ${fport}; }; };`;
    }),
  ].join("\n");
  const recursion =
    forwards.length > 0 ? "recursion yes;\n  allow-recursion { 127.0.0.0/8; ::1; };" : "recursion no;";
  return `options {
  directory "${dir}";
  pid-file none;
  session-keyfile none;
  listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 port ${port} { ${ipv6 ? "::1;" : "none;"} };
  ${recursion}
  notify no;
  dnssec-validation no;
  max-records-per-type 0;
  minimal-responses no;
};
controls { };
${zones}
`;
}

function zonePath(dir: string, origin: string): string {
  return join(dir, `${fqdn(origin).replace(/\.$/, "") || "root"}.zone`);
}

/** Starts named with the given zones and waits until every zone answers. */
export async function startBindServer(opts: BindServerOptions): Promise<BindServer> {
  const namedBin = opts.namedBin ?? process.env.NAMED_BIN ?? "/usr/sbin/named";
  const ipv6 = opts.ipv6 ?? false;
  const dir = mkdtempSync(join(tmpdir(), "dnseds-bind-"));
  const zones = new Map<string, BindZone>();
  const serials = new Map<string, number>();
  for (const z of opts.zones) zones.set(fqdn(z.origin).toLowerCase(), z);

  const writeZone = (z: BindZone) => {
    const key = fqdn(z.origin).toLowerCase();
    const serial = (serials.get(key) ?? 0) + 1;
    serials.set(key, serial);
    const path = zonePath(dir, z.origin);
    writeFileSync(path, zoneFile(z, serial));
    // named reloads a primary zone only when the file's mtime moved; make sure it did even within 1 s.
    const t = Date.now() / 1000 + serial;
    utimesSync(path, t, t);
    return serial;
  };
  for (const z of zones.values()) writeZone(z);

  let child: ChildProcess | undefined;
  let stderr = "";
  let port = 0;
  let stopped = false;

  const waitServing = async (origin: string, serial: number, deadlineMs: number) => {
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline) {
      if (child?.exitCode !== null && child?.exitCode !== undefined) return false;
      const got = await querySoaSerial("127.0.0.1", port, origin);
      if (got === serial) return true;
      await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
    }
    return false;
  };

  const waitAnswering = async (origin: string, deadlineMs: number) => {
    const deadline = Date.now() + deadlineMs;
    while (Date.now() < deadline) {
      if (child?.exitCode !== null && child?.exitCode !== undefined) return false;
      if ((await querySoaSerial("127.0.0.1", port, origin, 300, true)) !== undefined) return true;
      await new Promise((r) => setTimeout(r, POLL_INTERVAL_MS));
    }
    return false;
  };

  // named.conf lists every zone: written at each start attempt (new port) and when a zone is added.
  const writeConf = () =>
    writeFileSync(
      join(dir, "named.conf"),
      namedConf(
        dir,
        port,
        ipv6,
        [...zones.values()].map((z) => z.origin),
        opts.forwardZones ?? [],
      ),
    );

  const kill = async () => {
    const c = child;
    child = undefined;
    if (!c || c.exitCode !== null) return;
    const exited = new Promise<void>((r) => c.once("exit", () => r()));
    c.kill("SIGTERM");
    const t = setTimeout(() => c.kill("SIGKILL"), 3000);
    await exited;
    clearTimeout(t);
  };

  const attempts = opts.port === undefined ? START_ATTEMPTS : 1;
  for (let attempt = 0; attempt < attempts; attempt++) {
    port = opts.port ?? (await pickPort());
    writeConf();
    stderr = "";
    const c = spawn(namedBin, ["-g", "-c", join(dir, "named.conf")], { stdio: ["ignore", "ignore", "pipe"] });
    child = c;
    // A test worker that dies without afterAll must not leave named running.
    const killOnExit = () => c.kill("SIGKILL");
    process.once("exit", killOnExit);
    c.once("exit", () => process.removeListener("exit", killOnExit));
    c.stderr?.on("data", (d: Buffer) => {
      if (stderr.length < 200_000) stderr += d.toString();
    });
    c.on("error", (e) => {
      stderr += `spawn error: ${e.message}\n`;
    });
    let ok = true;
    for (const [key] of zones) {
      if (!(await waitServing(key, serials.get(key) ?? 1, opts.startTimeoutMs ?? 15_000))) {
        ok = false;
        break;
      }
    }
    // A forwarded zone is ready once its SOA comes back through this server (any serial).
    for (const f of opts.forwardZones ?? []) {
      if (!ok) break;
      ok = await waitAnswering(f.origin, opts.startTimeoutMs ?? 15_000);
    }
    if (ok) break;
    await kill();
    if (attempt === attempts - 1) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error(`bind-server: named did not start:\n${stderr.slice(-4000)}`);
    }
  }

  const server: BindServer = {
    host: "127.0.0.1",
    port,
    server: `127.0.0.1:${port}`,
    ...(ipv6 ? { server6: `[::1]:${port}` } : {}),
    dir,
    log: () => stderr,
    async setZone(zone: BindZone) {
      const key = fqdn(zone.origin).toLowerCase();
      const isNew = !zones.has(key);
      zones.set(key, zone);
      const serial = writeZone(zone);
      if (isNew) {
        writeConf();
      }
      child?.kill("SIGHUP");
      if (!(await waitServing(key, serial, 10_000))) {
        throw new Error(
          `bind-server: zone ${key} serial ${serial} not served after reload:\n${stderr.slice(-2000)}`,
        );
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await kill();
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return server;
}
