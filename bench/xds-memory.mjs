// W4: memory per idle stream and the connect storm. N streams (each on its own HTTP/2 connection, clients
// in a child process) each subscribe to 10 CLAs; we time until every stream has its initial response and
// measure server RSS/heap growth per stream after GC. Flags: --streams 5000 --names 10 --endpoints 100
import { arg, LoadClient, machine, makeCla, now, xds } from "./xds-harness.mjs";

// Every load-client connection comes from 127.0.0.1; the default per-peer cap (100) is for real fleets.
const BENCH_XDS_LIMITS = { maxConnectionsPerPeer: 1_000_000, maxConnections: 1_000_000 };

const STREAMS = arg("streams", 5000);
const NAMES = arg("names", 10);
const ENDPOINTS = arg("endpoints", 100);
const T = xds.TYPE_URLS.endpoint;
const gc = globalThis.gc ?? (() => {});
const settle = async () => {
  for (let i = 0; i < 3; i++) {
    gc();
    await new Promise((r) => setTimeout(r, 200));
  }
};

console.log(JSON.stringify({ bench: "xds-memory", machine: machine(), gcExposed: Boolean(globalThis.gc) }));
const store = new xds.ResourceStore();
const names = Array.from({ length: NAMES }, (_, i) => `cla-${i}`);
store.publish({
  upsert: names.map((name, i) => ({ typeUrl: T, name, resource: makeCla(name, ENDPOINTS, i) })),
});
const server = xds.createXdsServer({ store, limits: BENCH_XDS_LIMITS });
const port = await server.listen("127.0.0.1:0");
await settle();
const base = process.memoryUsage();
const client = new LoadClient();
const cpu0 = process.cpuUsage();
const t0 = now();
client.open({ target: `127.0.0.1:${port}`, n: STREAMS, names, typeUrl: T });
const at = await client.reached(1, 300_000);
const stormMs = at - t0;
const cpu = process.cpuUsage(cpu0);
await settle();
const after = process.memoryUsage();
console.log(
  JSON.stringify({
    w4: {
      streams: STREAMS,
      namesPerStream: NAMES,
      openStreams: server.streamCount(),
      allInitialResponsesMs: Math.round(stormMs),
      // Server CPU during the storm: when it is far below the wall time, the load client is the limit.
      serverCpuMs: Math.round((cpu.user + cpu.system) / 1000),
      rssPerStreamKB: +((after.rss - base.rss) / STREAMS / 1024).toFixed(1),
      heapPerStreamKB: +((after.heapUsed - base.heapUsed) / STREAMS / 1024).toFixed(1),
      baseRssMB: +(base.rss / 2 ** 20).toFixed(1),
      rssMB: +(after.rss / 2 ** 20).toFixed(1),
    },
  }),
);
await client.close();
await server.shutdown(2000);
process.exit(0);
