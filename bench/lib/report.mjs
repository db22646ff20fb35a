// How the whole-process benchmarks print: one JSON line per result (machine and date first), and the
// README table's rows as lines starting "TABLE-ROW |", which scripts/bench.mjs collects and prints
// together at the end of `npm run bench`.
import { cpus, loadavg, totalmem } from "node:os";

export function machine() {
  const c = cpus();
  return `${c[0]?.model ?? "unknown"} × ${c.length} cores, ${Math.round(totalmem() / 2 ** 30)} GiB, node ${process.version}`;
}

export function startReport(bench, layout) {
  console.log(
    JSON.stringify({
      bench,
      machine: machine(),
      date: new Date().toISOString(),
      loadavg: loadavg().map((x) => +x.toFixed(2)),
      pinning: layout.pinned ? { server: layout.server, loadAndDriver: layout.others } : "none (one core)",
    }),
  );
}

export function report(key, summary) {
  console.log(JSON.stringify({ [key]: summary }));
}

const fmt = (x) =>
  typeof x === "number"
    ? Number.isInteger(x)
      ? x.toLocaleString("en-US")
      : x.toLocaleString("en-US", { maximumFractionDigits: 1 })
    : x;
const times = (x) => (Number.isFinite(x) ? `${x.toFixed(2)}×` : "—");

/** A README table row: what, dns-eds, floor, go-control-plane, the two ratios, the goal. */
export function tableRow({ what, unit = "", ours, floor, go, goal }) {
  const cell = (v) => (v === undefined ? "—" : `${fmt(v)}${unit}`);
  const r = (a, b) => (a === undefined || b === undefined ? "—" : times(a / b));
  console.log(
    `TABLE-ROW | ${what} | ${cell(ours)} | ${cell(floor)} | ${cell(go)} | ${r(ours, floor)} | ${r(ours, go)} | ${goal} |`,
  );
}
