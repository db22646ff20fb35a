// One fan-out measurement against one server process: open the load, wait until every stream holds its
// initial content, measure the idle CPU rate, then run rounds. A round registers a marker with the
// clients (bytes only the new content holds), makes the change (server.prepare: for dns-eds the DNS
// change on BIND), opens the CPU window, lets the server see it (server.trigger) and closes the window
// when the last stream holds the marker. Reported per round: server CPU (from /proc), load-client CPU,
// change→last-receipt latency and the first-to-last receipt spread across streams.

import { LoadClients } from "./load-clients.mjs";
import { cpuMs, cpuMsByThread } from "./process-stats.mjs";
import { median, pct } from "./stats.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
const now = () => performance.timeOrigin + performance.now();
export const TYPE_EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

/**
 * @param {object} o
 * @param {{ pid: number, port: number, prepare: Function, trigger: Function, name: string }} o.server
 * @param {(r: number) => { changes: Map<string, string[]>, marker: string }} o.round change of round r
 * Resolves with { out, clients }: the caller checks what the streams hold, then closes the clients.
 */
export async function fanoutRounds({
  server,
  layout,
  streams,
  names,
  delta = false,
  rounds,
  warmup = 3,
  processes = 1,
  round,
}) {
  const clients = new LoadClients({ processes, cpus: layout.clientCpus });
  try {
    await clients.open({ target: `127.0.0.1:${server.port}`, n: streams, typeUrl: TYPE_EDS, delta, names });
    await clients.initial();
    await sleep(500);
    const mono = () => Number(process.hrtime.bigint() / 1000n);
    const i0 = cpuMs(server.pid);
    const it0 = now();
    const idleWindow = [mono()];
    await sleep(2000);
    idleWindow.push(mono());
    const idleMsPerS = ((cpuMs(server.pid) - i0) / (now() - it0)) * 1000;
    const cpu = [];
    const clientCpu = [];
    // Per thread name, summed over the measured rounds (printed with BENCH_THREADS=1, for development).
    const byThread = {};
    const latency = [];
    const spread = [];
    // Round windows on CLOCK_MONOTONIC in µs, the clock of V8 CPU profiles (profile-summary --windows).
    const windows = [];
    for (let r = 1; r <= warmup + rounds; r++) {
      const { changes, marker } = round(r);
      await clients.marker(r, marker);
      await server.prepare(changes);
      const c0 = cpuMs(server.pid);
      const th0 = process.env.BENCH_THREADS ? cpuMsByThread(server.pid) : undefined;
      const k0 = clients.cpuMs();
      const t0 = now();
      const m0 = mono();
      server.trigger(changes);
      const { first, last } = await clients.reached();
      const c1 = cpuMs(server.pid);
      const k1 = clients.cpuMs();
      if (r > warmup) {
        if (th0) {
          for (const [t, ms] of Object.entries(cpuMsByThread(server.pid)))
            byThread[t] = (byThread[t] ?? 0) + ms - (th0[t] ?? 0);
        }
        windows.push([m0, mono()]);
        cpu.push(c1 - c0);
        clientCpu.push(k1 - k0);
        latency.push(last - t0);
        spread.push(last - first);
      }
      // ACKs of this round settle before the next one starts.
      await sleep(150);
    }
    // Development: every measured round's server CPU and latency, where a median hides slow rounds.
    if (process.env.BENCH_ROUNDS) {
      const list = (xs) => xs.map((x) => x.toFixed(0)).join(" ");
      console.error(`${server.name}: CPU per round (ms) ${list(cpu)} | latency (ms) ${list(latency)}`);
    }
    const counts = await clients.counts();
    const out = {
      server: server.name,
      streams,
      delta,
      rounds,
      serverCpuMs: +median(cpu).toFixed(1),
      serverCpuMsP90: +pct(cpu, 90).toFixed(1),
      spreadMs: +median(spread).toFixed(1),
      latencyMs: +median(latency).toFixed(1),
      clientCpuMs: +median(clientCpu).toFixed(1),
      idleCpuMsPerS: +idleMsPerS.toFixed(1),
      responsesPerStream: +(counts.responses / streams).toFixed(2),
      // The same assignment from every server: this differs only by version, nonce and identifier.
      bytesPerResponse: Math.round(counts.bytes / Math.max(1, counts.responses)),
      clientBound: median(clientCpu) > median(cpu),
    };
    if (process.env.BENCH_THREADS) {
      const perRound = Object.entries(byThread).map(([t, ms]) => `${t} ${(ms / rounds).toFixed(1)}`);
      console.error(`${server.name}: server CPU per round by thread (ms): ${perRound.join(", ")}`);
    }
    Object.defineProperty(out, "windows", { value: windows, enumerable: false });
    Object.defineProperty(out, "idleWindow", { value: idleWindow, enumerable: false });
    return { out, clients };
  } catch (e) {
    await clients.close();
    throw e;
  }
}
