// Development preload for a dns-eds server under a benchmark (BENCH_SERVER_NODE_ARGS="-r
// bench/tools/promoted-sampler.cjs"): samples, over one window of the server's life, the allocations
// that outlived the young generation (V8's sampling heap profiler, keeping objects a mark-compact
// collected but not those a scavenge did). That is the garbage that costs mark-compacts, by the
// function that allocated it. Written to DIR/promoted-PID.heapprofile; summarise with
// `node bench/tools/promoted-summary.mjs FILE`.
// Env: BENCH_PROMOTED_DIR (default the working directory), BENCH_PROMOTED_FROM_MS (when the window opens
// after start-up, default 12000), BENCH_PROMOTED_FOR_MS (its length, default 18000).
const inspector = require("node:inspector");
const { writeFileSync } = require("node:fs");
const { join } = require("node:path");

const dir = process.env.BENCH_PROMOTED_DIR ?? process.cwd();
const from = Number(process.env.BENCH_PROMOTED_FROM_MS ?? 12_000);
const span = Number(process.env.BENCH_PROMOTED_FOR_MS ?? 18_000);
const session = new inspector.Session();
session.connect();
setTimeout(() => {
  const opts = {
    samplingInterval: 4096,
    includeObjectsCollectedByMajorGC: true,
    includeObjectsCollectedByMinorGC: false,
  };
  session.post("HeapProfiler.startSampling", opts, (err) => {
    if (err) process.stderr.write(`promoted-sampler: ${err.message}\n`);
  });
  setTimeout(() => {
    session.post("HeapProfiler.stopSampling", (err, res) => {
      if (err) return process.stderr.write(`promoted-sampler: ${err.message}\n`);
      writeFileSync(join(dir, `promoted-${process.pid}.heapprofile`), JSON.stringify(res.profile));
    });
  }, span).unref();
}, from).unref();
