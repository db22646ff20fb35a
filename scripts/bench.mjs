#!/usr/bin/env node
// Runs every benchmark in bench/ (files named *.mjs) one after the other against the built dist/, so
// they never compete for the two cores, and prints each one's output. `npm run bench -- NAME` runs the
// benchmarks whose file name contains NAME. Results are ratios against a baseline each bench measures
// in the same run; see bench/README.md.
import { spawnSync } from "node:child_process";
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
let failed = 0;
for (const f of files) {
  console.log(`\n=== ${f}`);
  const r = spawnSync(process.execPath, ["--expose-gc", join(root, "bench", f)], {
    cwd: root,
    stdio: "inherit",
    timeout: 15 * 60_000,
  });
  if (r.status !== 0) {
    failed++;
    console.error(`bench ${f} exited with ${r.status ?? r.signal}`);
  }
}
process.exit(failed === 0 ? 0 : 1);
