#!/usr/bin/env node
// Runs every benchmark in bench/ (files named *.mjs) one after the other against the built dist/, so
// they never compete for the two cores, and prints each one's output. `npm run bench -- NAME` runs the
// benchmarks whose file name contains NAME. Results are ratios against a baseline each bench measures
// in the same run; see bench/README.md.
import { spawn } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
if (!existsSync(join(root, "dist"))) {
  console.error("bench: dist/ is missing; run `npm run build` first");
  process.exit(2);
}
const filter = process.argv[2] ?? "";
const files = readdirSync(join(root, "bench"))
  .filter((f) => f.endsWith(".mjs") && f.includes(filter))
  .sort();
const cpu = cpus();
console.log(
  `machine: ${cpu[0]?.model ?? "unknown"} × ${cpu.length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, node ${process.version}`,
);
console.log(`date: ${new Date().toISOString()}`);

/** Runs one bench, echoing its output; resolves with its exit status and the table rows it printed. */
function run(f) {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ["--expose-gc", join(root, "bench", f), ...process.argv.slice(3)], {
      cwd: root,
      stdio: ["ignore", "pipe", "inherit"],
      // The soak runs for 30 minutes when named (`npm run bench -- soak`), a short smoke otherwise.
      env: { ...process.env, DNS_EDS_BENCH_FILTER: filter },
    });
    const rows = [];
    let rest = "";
    child.stdout.on("data", (d) => {
      process.stdout.write(d);
      const lines = (rest + d).split("\n");
      rest = lines.pop() ?? "";
      for (const l of lines) if (l.startsWith("TABLE-ROW ")) rows.push(l.slice("TABLE-ROW ".length));
    });
    const limitMs = (f.includes("soak") ? 50 : 15) * 60_000;
    const timer = setTimeout(() => child.kill("SIGTERM"), limitMs);
    child.on("exit", (code, signal) => {
      clearTimeout(timer);
      resolve({ status: code ?? signal, rows });
    });
  });
}

let failed = 0;
const table = [];
for (const f of files) {
  console.log(`\n=== ${f}`);
  const r = await run(f);
  table.push(...r.rows);
  if (r.status !== 0) {
    failed++;
    console.error(`bench ${f} exited with ${r.status}`);
  }
}
if (table.length > 0) {
  // The rows of the README's whole-process table (bench/xds-process-*.mjs, bench/xds-soak.mjs).
  console.log(
    "\n| Workload and figure | dns-eds | floor (bare grpc-js) | go-control-plane | dns-eds / floor | dns-eds / go | goal |",
  );
  console.log("|---|---|---|---|---|---|---|");
  for (const row of table) console.log(row);
}
process.exit(failed === 0 ? 0 : 1);
