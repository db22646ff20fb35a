#!/usr/bin/env node
/**
 * Entry point of the `dns-eds` binary: builds the command line and runs it. Exit codes: 0 ok,
 * 1 run-time failure, 2 invalid config (see exit-codes.ts).
 */
import { applyHeapTuning } from "./heap-tuning.js";
import { buildProgram } from "./program.js";

applyHeapTuning();

const program = await buildProgram();
try {
  await program.parseAsync(process.argv);
} catch (err) {
  process.stderr.write(`dns-eds: ${(err as Error).stack ?? String(err)}\n`);
  process.exitCode = 1;
}
// Servers and watchers are closed by now; a library timer or socket left behind must not keep the
// process alive after the command finished.
process.exit(process.exitCode ?? 0);
