// W3 churn against one server process: C clusters change continuously while S streams each watch P of
// them (every cluster has S·P/C watchers). dns-eds sees the changes through DNS: every `zonePeriodMs`
// every cluster gets a new marker record on BIND, and dns-eds picks each name up at its own refresh
// (80–90 % of the 1 s TTL). The floor and go-control-plane get the same change stream without DNS: each
// cluster changes once per `refreshMs` at its own phase, batched every `batchMs` (dns-eds's debounce).
// Counted on the streams: updates (a resource whose bytes changed), redundant resends, responses; over
// the measured window the server's CPU from /proc. At the end the churn stops and every stream must come
// to hold the newest version of every cluster it watches.
import { LoadClients } from "./load-clients.mjs";
import { cpuMs } from "./process-stats.mjs";
import { endpoints, markerHex, markerIp } from "./workloads.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();
const TYPE_EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

export const clusterName = (i) => `c${i}`;
/** Cluster i's endpoints at version seq: its own block of fixed addresses plus marker seq. */
export const clusterEndpoints = (i, size, seq) => endpoints(10 + i, size, seq);

/** `hosted` (a zone's, named.mjs) gives each endpoint its DNS name, for the servers that are not dns-eds. */
export function churnPlan({ clusters, size, hosted = (changes) => changes }) {
  const seq = new Array(clusters).fill(0);
  const all = () => hosted(new Map(seq.map((s, i) => [clusterName(i), clusterEndpoints(i, size, s)])));
  return {
    seq,
    all,
    bump(indices) {
      const changes = new Map();
      for (const i of indices) {
        seq[i]++;
        changes.set(clusterName(i), clusterEndpoints(i, size, seq[i]));
      }
      return hosted(changes);
    },
    expect() {
      return Object.fromEntries(seq.map((s, i) => [clusterName(i), markerHex(markerIp(s))]));
    },
  };
}

/**
 * @param {object} o
 * @param {"dns" | "direct"} o.via how the server learns of changes
 */
export async function churnRun({
  server,
  layout,
  plan,
  via,
  clusters,
  streams,
  per,
  warmupS,
  seconds,
  processes = 1,
  zonePeriodMs = 200,
  refreshMs = 850,
  batchMs = 100,
  sample,
}) {
  const clients = new LoadClients({ processes, cpus: layout.clientCpus });
  let stop = false;
  try {
    await clients.open({
      target: `127.0.0.1:${server.port}`,
      n: streams,
      typeUrl: TYPE_EDS,
      clusters,
      per,
      prefix: "c",
    });
    await clients.initial();
    // The change stream, until `stop`.
    const all = Array.from({ length: clusters }, (_, i) => i);
    const driver = (async () => {
      if (via === "dns") {
        while (!stop) {
          const t = now();
          await server.prepare(plan.bump(all));
          await sleep(Math.max(0, zonePeriodMs - (now() - t)));
        }
      } else {
        const due = all.map((i) => now() + (i / clusters) * refreshMs);
        while (!stop) {
          const t = now();
          const ready = all.filter((i) => due[i] <= t);
          for (const i of ready) due[i] += refreshMs;
          if (ready.length > 0) {
            await server.prepare();
            server.trigger(plan.bump(ready));
          }
          await sleep(Math.max(0, batchMs - (now() - t)));
        }
        await server.prepare();
      }
    })();
    await sleep(warmupS * 1000);
    const c0 = await clients.counts();
    const cpu0 = cpuMs(server.pid);
    const k0 = clients.cpuMs();
    const t0 = now();
    const series = [];
    const end = t0 + seconds * 1000;
    while (now() < end) {
      await sleep(Math.min(10_000, end - now()));
      if (sample) series.push(await sample(now() - t0));
    }
    const c1 = await clients.counts();
    const cpu = cpuMs(server.pid) - cpu0;
    const clientCpu = clients.cpuMs() - k0;
    const wall = now() - t0;
    stop = true;
    await driver;
    // Converge: every stream must come to hold the newest version of each cluster it watches.
    const expect = plan.expect();
    const tc = now();
    let held;
    for (let i = 0; i < 60; i++) {
      held = await clients.check(expect);
      if (held.stale === 0 && held.missing === 0) break;
      await sleep(500);
    }
    const updates = c1.updates - c0.updates;
    const out = {
      server: server.name,
      streams,
      clusters,
      perStream: per,
      seconds: +(wall / 1000).toFixed(1),
      updatesPerS: Math.round((updates / wall) * 1000),
      updatesPerCpuS: Math.round((updates / cpu) * 1000),
      serverCpuShare: +(cpu / wall).toFixed(2),
      responsesPerS: Math.round(((c1.responses - c0.responses) / wall) * 1000),
      redundantPerS: Math.round(((c1.redundant - c0.redundant) / wall) * 1000),
      clientCpuShare: +(clientCpu / wall).toFixed(2),
      convergedMs: Math.round(now() - tc),
      onLast: held.ok,
      stale: held.stale,
      missing: held.missing,
    };
    return { out, series };
  } finally {
    stop = true;
    await clients.close();
  }
}
