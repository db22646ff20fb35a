// A real BIND 9 (`named -g`) for the benchmarks, authoritative for zones the bench writes, on 127.0.0.1
// and a free port. `setZone` rewrites a zone, reloads named (SIGHUP) and resolves once the new SOA serial
// is served, so the next query sees the new data. Large names need `max-records-per-type 0` (BIND 9.18
// refuses more than 100 records of one type by default) and are answered over TCP (> 64 KB or > 512 B).
// The test suite has its own TypeScript helper (test/support/bind-server.ts); benches run from dist/ and
// plain .mjs, so they share this one.
import { spawn } from "node:child_process";
import { promises as dns } from "node:dns";
import { mkdtempSync, rmSync, utimesSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.mjs";
import { endpointParts } from "./workloads.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

/**
 * @param {{ zones: Array<{ origin: string, records: string }>, threads?: number, cpus?: string }} opts
 *   `records`: zone lines after SOA/NS, names relative to the origin; `cpus`: a taskset CPU list.
 */
export async function startNamed(opts) {
  const dir = mkdtempSync(join(tmpdir(), "dnseds-bench-named-"));
  const port = await freePort();
  const serials = new Map();
  const path = (origin) => join(dir, `${origin}.zone`);
  const write = (origin, records) => {
    const serial = (serials.get(origin) ?? 0) + 1;
    serials.set(origin, serial);
    writeFileSync(
      path(origin),
      [
        `$ORIGIN ${origin}.`,
        "$TTL 1",
        `@ 60 IN SOA ns admin ${serial} 60 60 60 1`,
        "@ 60 IN NS ns",
        "ns 60 IN A 127.0.0.1",
        records,
        "",
      ].join("\n"),
    );
    // named reloads a zone only when the file's mtime moved; make sure it did even within one second.
    const t = Date.now() / 1000 + serial;
    utimesSync(path(origin), t, t);
    return serial;
  };
  for (const z of opts.zones) write(z.origin, z.records);
  writeFileSync(
    join(dir, "named.conf"),
    `options { directory "${dir}"; pid-file none; session-keyfile none; listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; }; recursion no; notify no; dnssec-validation no; max-records-per-type 0;
  max-types-per-name 0; minimal-responses yes; };
controls { };
${opts.zones.map((z) => `zone "${z.origin}." { type primary; file "${path(z.origin)}"; max-records-per-type 0; };`).join("\n")}
`,
  );
  const args = ["-g", "-n", String(opts.threads ?? 1), "-c", join(dir, "named.conf")];
  const bin = process.env.NAMED_BIN ?? "/usr/sbin/named";
  const child = opts.cpus
    ? spawn("taskset", ["-c", opts.cpus, bin, ...args], { stdio: ["ignore", "ignore", "pipe"] })
    : spawn(bin, args, { stdio: ["ignore", "ignore", "pipe"] });
  let log = "";
  child.stderr.on("data", (d) => {
    if (log.length < 100_000) log += d;
  });
  // Never leave named behind, even if the bench dies on an uncaught error.
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  const resolver = new dns.Resolver({ timeout: 500, tries: 1 });
  resolver.setServers([`127.0.0.1:${port}`]);
  const served = async (origin, serial) => {
    for (let i = 0; i < 500; i++) {
      if (child.exitCode !== null) break;
      try {
        if ((await resolver.resolveSoa(origin)).serial === serial) return;
      } catch {}
      await sleep(10);
    }
    throw new Error(`named did not serve ${origin} serial ${serial}:\n${log.slice(-2000)}`);
  };
  for (const z of opts.zones) await served(z.origin, serials.get(z.origin));
  return {
    server: `127.0.0.1:${port}`,
    pid: child.pid,
    async setZone(origin, records) {
      const serial = write(origin, records);
      child.kill("SIGHUP");
      await served(origin, serial);
    },
    async stop() {
      process.removeListener("exit", kill);
      if (child.exitCode === null) {
        const exited = new Promise((r) => child.once("exit", r));
        child.kill("SIGTERM");
        const t = setTimeout(() => child.kill("SIGKILL"), 3000);
        await exited;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * The DNS side of a workload: holds every name's addresses and rewrites the zone on `apply(changes)`.
 * `labelsOf(resource, endpoints)` says which DNS names (relative to `origin`) carry a resource's
 * endpoints and with which addresses (a 10,000-endpoint cluster is ten names of 1,000 records, since one
 * DNS answer holds at most 64 KB).
 */
export function dnsZone(origin, labelsOf) {
  const state = new Map();
  const render = () => {
    const lines = [];
    for (const [label, ips] of state) for (const ip of ips) lines.push(`${label} IN A ${ip}`);
    return lines.join("\n");
  };
  return {
    /** Set by the bench once named runs with `render()` as the zone's first content. */
    named: undefined,
    get server() {
      return this.named.server;
    },
    set(changes) {
      for (const [name, endpoints] of changes)
        for (const [label, ips] of labelsOf(name, endpoints)) state.set(label, ips);
    },
    async apply(changes) {
      this.set(changes);
      await this.named.setZone(origin, render());
    },
    /**
     * `changes` with each endpoint given the DNS name that carries it ("ip:port/name"): what dns-eds
     * sends as its `Endpoint.hostname`, and so what the floor and the go peer must send too.
     */
    hosted(changes) {
      const out = new Map();
      for (const [name, endpoints] of changes) {
        const hostOf = new Map();
        for (const [label, ips] of labelsOf(name, endpoints))
          for (const ip of ips) hostOf.set(ip, `${label}.${origin}`);
        const hosted = endpoints.map((e) => {
          const host = hostOf.get(endpointParts(e).address);
          if (host === undefined) throw new Error(`${name}: no DNS name of this zone carries ${e}`);
          return `${e}/${host}`;
        });
        out.set(name, hosted);
      }
      return out;
    },
    render,
  };
}
