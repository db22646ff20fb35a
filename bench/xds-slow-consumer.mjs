// Slow consumer: F fast streams receive R rounds of a changed 1,000-endpoint CLA next to S more streams
// that either keep reading ("no-stall") or stop reading after their first response ("stall"). Each
// scenario runs in a fresh process; we compare peak server RSS and the fast clients' p50, so the
// difference is the cost of stalling alone. Flags: --fast 200 --stalled 100 --rounds 30
import { spawnSync } from "node:child_process";
import { fileURLToPath } from "node:url";
import { arg, LoadClient, machine, makeCla, now, pct, xds } from "./xds-harness.mjs";

// Every load-client connection comes from 127.0.0.1; the default per-peer cap (100) is for real fleets.
const BENCH_XDS_LIMITS = { maxConnectionsPerPeer: 1_000_000, maxConnections: 1_000_000 };

const FAST = arg("fast", 200);
const STALLED = arg("stalled", 100);
const ROUNDS = arg("rounds", 30);
const ENDPOINTS = arg("endpoints", 1000);
const T = xds.TYPE_URLS.endpoint;
const scenario = process.argv.includes("--scenario")
  ? process.argv[process.argv.indexOf("--scenario") + 1]
  : undefined;

if (scenario === undefined) {
  console.log(JSON.stringify({ bench: "xds-slow-consumer", machine: machine() }));
  const run = (s) => {
    const r = spawnSync(
      process.execPath,
      ["--expose-gc", fileURLToPath(import.meta.url), "--scenario", s, ...process.argv.slice(2)],
      { encoding: "utf8", timeout: 600_000 },
    );
    if (r.status !== 0) throw new Error(`scenario ${s} failed: ${r.stderr}`);
    const line = r.stdout.trim().split("\n").at(-1) ?? "{}";
    console.log(line);
    return JSON.parse(line);
  };
  const base = run("no-stall");
  const stall = run("stall");
  console.log(
    JSON.stringify({
      slowConsumer: {
        peakRssDeltaMB: +(stall.peakRssMB - base.peakRssMB).toFixed(1),
        fastP50Ratio: +(stall.p50 / base.p50).toFixed(2),
      },
    }),
  );
  process.exit(0);
}

const store = new xds.ResourceStore();
store.publish({ upsert: [{ typeUrl: T, name: "bench", resource: makeCla("bench", ENDPOINTS, 0) }] });
const server = xds.createXdsServer({ store, limits: BENCH_XDS_LIMITS });
const port = await server.listen("127.0.0.1:0");
const target = `127.0.0.1:${port}`;
const fast = new LoadClient();
fast.open({ target, n: FAST, names: ["bench"], typeUrl: T });
await fast.reached(1);
const stalled = new LoadClient();
stalled.open({ target, n: STALLED, names: ["bench"], typeUrl: T, pauseAfterFirst: scenario === "stall" });
await stalled.reached(1);
globalThis.gc?.();
let peak = process.memoryUsage().rss;
const lat = [];
for (let r = 1; r <= ROUNDS; r++) {
  const cla = makeCla("bench", ENDPOINTS, r);
  const t0 = now();
  store.publish({ upsert: [{ typeUrl: T, name: "bench", resource: cla }] });
  lat.push((await fast.reached(r + 1)) - t0);
  await new Promise((res) => setTimeout(res, 20));
  peak = Math.max(peak, process.memoryUsage().rss);
}
globalThis.gc?.();
peak = Math.max(peak, process.memoryUsage().rss);
console.log(
  JSON.stringify({
    scenario,
    fast: FAST,
    others: STALLED,
    rounds: ROUNDS,
    p50: pct(lat, 50),
    p99: pct(lat, 99),
    peakRssMB: +(peak / 2 ** 20).toFixed(1),
  }),
);
await fast.close();
await stalled.close();
await server.shutdown(500);
process.exit(0);
