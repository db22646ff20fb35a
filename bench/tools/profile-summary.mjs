#!/usr/bin/env node
// Summarises a V8 .cpuprofile (from `node --cpu-prof`, e.g. `xds-process-fanout.mjs --cpu-prof DIR`):
// the functions with the most self time, and the inclusive time of the frames that matter for the xDS
// fan-out (grpc-js write path, request decoding, per-stream work, metrics, channelz), as shares of all
// non-idle samples. `--windows FILE` (round-windows.json, written beside the profile by the fan-out bench)
// keeps only samples inside the measured rounds, so start-up and connection set-up do not count.
// `--between` (with `--windows`) keeps the samples between the first and the last round that fall outside
// every round instead: what the server does while nothing changes (the idle rate the fan-out bench prints).
// `--callers N` adds the N functions with the most inclusive time (each counted once per sample), which is
// where a rebuild's cost shows when no single leaf dominates.
// Usage: node bench/tools/profile-summary.mjs FILE.cpuprofile [--top 25] [--windows round-windows.json] [--callers 30]
import { readFileSync } from "node:fs";
import { basename } from "node:path";

const file = process.argv[2];
if (!file) {
  console.log("usage: node bench/tools/profile-summary.mjs FILE.cpuprofile [--top 25]");
  process.exit(0);
}
const topAt = process.argv.indexOf("--top");
const TOP = topAt > 0 ? Number(process.argv[topAt + 1]) : 25;
const p = JSON.parse(readFileSync(file, "utf8"));
const byId = new Map(p.nodes.map((n) => [n.id, n]));
const parent = new Map();
for (const n of p.nodes) for (const c of n.children ?? []) parent.set(c, n.id);
const winAt = process.argv.indexOf("--windows");
const windows = winAt > 0 ? JSON.parse(readFileSync(process.argv[winAt + 1], "utf8")) : undefined;
const inAnyWindow = (t) => windows === undefined || windows.some(([a, b]) => t >= a && t <= b);
const between = windows !== undefined && process.argv.includes("--between");
const [firstStart, lastEnd] = windows ? [windows[0][0], windows[windows.length - 1][1]] : [0, 0];
const inWindow = between ? (t) => t > firstStart && t < lastEnd && !inAnyWindow(t) : inAnyWindow;
const dt = new Map();
let t = p.startTime;
for (let i = 0; i < p.samples.length; i++) {
  t += p.timeDeltas[i] ?? 0;
  if (!inWindow(t)) continue;
  const id = p.samples[i];
  dt.set(id, (dt.get(id) ?? 0) + (p.timeDeltas[i] ?? 0));
}
const label = (n) => {
  const f = n.callFrame;
  const where = f.url ? `${basename(f.url)}:${f.lineNumber + 1}` : "";
  return `${f.functionName || "(anonymous)"} ${where}`.trim();
};
const idle = new Set(["(idle)", "(program)", "(garbage collector)"]);
let total = 0;
let gc = 0;
const self = new Map();
for (const [id, us] of dt) {
  const n = byId.get(id);
  const name = n.callFrame.functionName;
  if (name === "(idle)") continue;
  total += us;
  if (name === "(garbage collector)") gc += us;
  const l = idle.has(name) ? name : label(n);
  self.set(l, (self.get(l) ?? 0) + us);
}
// Inclusive time per matcher: a sample counts once if any frame on its stack matches.
const groups = {
  "grpc-js sendMessage (serialize + write)": (n) =>
    n.callFrame.functionName === "sendMessage" && /server-interceptors/.test(n.callFrame.url),
  "grpc-js serializeMessage (copy)": (n) => n.callFrame.functionName === "serializeMessage",
  "request decode (fromBinary)": (n) => n.callFrame.functionName === "fromBinary",
  "stream-writer pump": (n) => n.callFrame.functionName === "pump" && /stream-writer/.test(n.callFrame.url),
  "stream produce/build (per-stream work)": (n) =>
    ["produce", "build", "buildPartial", "buildFull", "emit"].includes(n.callFrame.functionName) &&
    /xds\//.test(n.callFrame.url),
  "stream handle (requests)": (n) =>
    n.callFrame.functionName === "handle" && /(sotw|delta)-stream/.test(n.callFrame.url),
  "metrics (prom-client)": (n) => /prom-client/.test(n.callFrame.url),
  channelz: (n) => /channelz/.test(n.callFrame.url),
  "http2 (node:internal/http2)": (n) => /internal\/http2/.test(n.callFrame.url),
  "store publish": (n) => n.callFrame.functionName === "publish" && /resource-store/.test(n.callFrame.url),
  "endpoint pipeline": (n) => /endpoint-pipeline|assignment-builder/.test(n.callFrame.url),
  "dns resolver": (n) => /\/dns\//.test(n.callFrame.url),
};
const incl = Object.fromEntries(Object.keys(groups).map((k) => [k, 0]));
for (const [id, us] of dt) {
  const leaf = byId.get(id);
  if (idle.has(leaf.callFrame.functionName)) continue;
  const hit = new Set();
  for (let cur = id; cur !== undefined; cur = parent.get(cur)) {
    const n = byId.get(cur);
    for (const [k, m] of Object.entries(groups)) if (m(n)) hit.add(k);
  }
  for (const k of hit) incl[k] += us;
}
const pct = (us) => `${((100 * us) / total).toFixed(1)} %`;
console.log(
  `profile ${basename(file)}${windows ? `, ${between ? "between " : ""}${windows.length} round windows` : ""}: ${(total / 1000).toFixed(0)} ms busy (GC ${pct(gc)})`,
);
console.log("\ninclusive:");
for (const [k, us] of Object.entries(incl).sort((a, b) => b[1] - a[1]))
  console.log(`  ${pct(us).padStart(7)}  ${k}`);
console.log(`\nself, top ${TOP}:`);
for (const [l, us] of [...self].sort((a, b) => b[1] - a[1]).slice(0, TOP))
  console.log(`  ${pct(us).padStart(7)}  ${l}`);

const callersAt = process.argv.indexOf("--callers");
if (callersAt > 0) {
  const n = Number(process.argv[callersAt + 1]);
  const inclFn = new Map();
  for (const [id, us] of dt) {
    const leaf = byId.get(id);
    if (idle.has(leaf.callFrame.functionName)) continue;
    const seen = new Set();
    for (let cur = id; cur !== undefined; cur = parent.get(cur)) seen.add(label(byId.get(cur)));
    for (const l of seen) inclFn.set(l, (inclFn.get(l) ?? 0) + us);
  }
  console.log(`\ninclusive by function, top ${n}:`);
  for (const [l, us] of [...inclFn].sort((a, b) => b[1] - a[1]).slice(0, n))
    console.log(`  ${pct(us).padStart(7)}  ${l}`);
}
