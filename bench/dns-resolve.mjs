#!/usr/bin/env node
// Cold-path DNS lookups: our hardened resolver (src/dns, built dist/, no cache) against Node's
// `dns.promises.Resolver` (c-ares) as the baseline, both querying the same local BIND 9 (started here on
// a loopback high port with a zone of 1,000 names) at 200 lookups in flight, alternating rounds so both
// see the same box state. Reports lookups/s, p50/p99 per lookup, lost lookups (errors) and the ratios
// ours/c-ares, plus client CPU per lookup. Goal (issue 3): ≥ 0.7× c-ares throughput, 0 lost at 200 in
// flight. named runs with one worker thread (-n 1, BENCH_NAMED_THREADS to change): with more, named's
// SO_REUSEPORT sockets spread our many source ports over all its threads, which then compete with the
// client for the box's two cores, while c-ares' single port keeps named on one thread; one thread gives
// both clients the same server.
import { spawn } from "node:child_process";
import { createSocket } from "node:dgram";
import { Resolver as CaresResolver } from "node:dns/promises";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { cpus, tmpdir } from "node:os";
import { join } from "node:path";
import { createResolver } from "../dist/dns/resolver.js";

const LOOKUPS = Number(process.env.BENCH_LOOKUPS ?? 20_000);
const IN_FLIGHT = Number(process.env.BENCH_IN_FLIGHT ?? 200);
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 3);
const NAMES = 1000;
const ZONE = "bench.dns-eds.test";

const names = Array.from({ length: NAMES }, (_, i) => `h${i}.${ZONE}`);

async function startNamed() {
  const dir = mkdtempSync(join(tmpdir(), "dnseds-bench-bind-"));
  const records = names.map((n, i) => `${n}. 300 IN A 10.0.${i >> 8}.${i & 255}`).join("\n");
  writeFileSync(
    join(dir, "zone"),
    `$TTL 300\n@ IN SOA ns.${ZONE}. h.${ZONE}. 1 3600 600 86400 30\n@ IN NS ns.${ZONE}.\nns.${ZONE}. IN A 127.0.0.1\n${records}\n`,
  );
  for (let attempt = 0; attempt < 5; attempt++) {
    const port = 20_000 + Math.floor(Math.random() * 40_000);
    writeFileSync(
      join(dir, "named.conf"),
      `options { directory "${dir}"; pid-file none; session-keyfile none; listen-on port ${port} { 127.0.0.1; };
  listen-on-v6 { none; }; recursion no; dnssec-validation no; notify no; };
controls { };
zone "${ZONE}." { type primary; file "${join(dir, "zone")}"; };
`,
    );
    const child = spawn(
      process.env.NAMED_BIN ?? "/usr/sbin/named",
      ["-g", "-n", process.env.BENCH_NAMED_THREADS ?? "1", "-c", join(dir, "named.conf")],
      {
        stdio: "ignore",
      },
    );
    // Never leave named behind, even if the bench dies on an uncaught error.
    const killOnExit = () => child.kill("SIGKILL");
    process.once("exit", killOnExit);
    for (let i = 0; i < 100; i++) {
      if (child.exitCode !== null) break;
      if (await answers(port)) {
        return {
          port,
          // named writes into its directory while it shuts down: remove it only once named has exited.
          stop: async () => {
            const exited =
              child.exitCode !== null || child.signalCode !== null
                ? Promise.resolve()
                : new Promise((r) => child.once("exit", r));
            child.kill("SIGTERM");
            const t = setTimeout(() => child.kill("SIGKILL"), 3000);
            await exited;
            clearTimeout(t);
            rmSync(dir, { recursive: true, force: true });
          },
        };
      }
      await new Promise((r) => setTimeout(r, 100));
    }
    child.kill("SIGKILL");
  }
  rmSync(dir, { recursive: true, force: true });
  throw new Error("named did not start");
}

function answers(port) {
  return new Promise((resolve) => {
    const s = createSocket("udp4");
    const t = setTimeout(() => {
      s.close();
      resolve(false);
    }, 200);
    s.on("message", () => {
      clearTimeout(t);
      s.close();
      resolve(true);
    });
    s.on("error", () => {});
    // Minimal query: ID 1, RD, one question for the zone SOA.
    const labels = ZONE.split(".").flatMap((l) => [l.length, ...Buffer.from(l)]);
    s.send(Buffer.from([0, 1, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, ...labels, 0, 0, 6, 0, 1]), port, "127.0.0.1");
  });
}

async function run(lookup) {
  const cpu0 = process.cpuUsage();
  const lat = new Float64Array(LOOKUPS);
  let next = 0;
  let lost = 0;
  const t0 = performance.now();
  await Promise.all(
    Array.from({ length: IN_FLIGHT }, async () => {
      while (next < LOOKUPS) {
        const i = next++;
        const t = performance.now();
        try {
          await lookup(names[i % NAMES]);
        } catch {
          lost++;
        }
        lat[i] = performance.now() - t;
      }
    }),
  );
  const ms = performance.now() - t0;
  lat.sort();
  const cpu = process.cpuUsage(cpu0);
  return {
    cpuUsPerLookup: (cpu.user + cpu.system) / LOOKUPS,
    perSec: (LOOKUPS / ms) * 1000,
    p50us: lat[LOOKUPS >> 1] * 1000,
    p99us: lat[Math.floor(LOOKUPS * 0.99)] * 1000,
    lost,
  };
}

const named = await startNamed();
const server = `127.0.0.1:${named.port}`;
try {
  const cares = new CaresResolver({ timeout: 2000, tries: 2 });
  cares.setServers([server]);
  const ours = createResolver({ servers: [server], timeoutMs: 2000, attempts: 2 });
  const caresLookup = (n) => cares.resolve4(n);
  const oursLookup = async (n) => {
    const a = await ours.resolve(n, "A");
    if (a.records.length !== 1) throw new Error("wrong answer");
  };
  // Warm-up both (JIT, named's caches, socket pools).
  await run(caresLookup);
  await run(oursLookup);
  const c = [];
  const o = [];
  for (let r = 0; r < ROUNDS; r++) {
    c.push(await run(caresLookup));
    o.push(await run(oursLookup));
  }
  await ours.close();
  const med = (xs, k) => xs.map((x) => x[k]).sort((a, b) => a - b)[xs.length >> 1];
  // Medians over the rounds; lost lookups summed, since one lost in any round fails the goal.
  const rounds = (xs) => ({
    cpuUsPerLookup: Math.round(med(xs, "cpuUsPerLookup")),
    perSec: Math.round(med(xs, "perSec")),
    p50us: Math.round(med(xs, "p50us")),
    p99us: Math.round(med(xs, "p99us")),
    lost: xs.reduce((a, x) => a + x.lost, 0),
  });
  const summary = {
    bench: "dns-resolve (cold path, no cache)",
    machine: `${cpus()[0]?.model ?? "?"} × ${cpus().length}`,
    lookupsPerRound: LOOKUPS,
    inFlight: IN_FLIGHT,
    rounds: ROUNDS,
    cares: rounds(c),
    ours: rounds(o),
  };
  summary.ratio = {
    throughput: +(summary.ours.perSec / summary.cares.perSec).toFixed(2),
    p50: +(summary.ours.p50us / summary.cares.p50us).toFixed(2),
  };
  summary.goal =
    summary.ratio.throughput >= 0.7 && summary.ours.lost === 0 ? "met (≥ 0.7× c-ares, 0 lost)" : "NOT met";
  console.log(JSON.stringify(summary, null, 2));
} finally {
  await named.stop();
}
