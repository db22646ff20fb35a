/**
 * Test helper: the run parameters of every fast-check property, so each run is reproducible. By default
 * a property runs with the fixed seed its test names (CI is deterministic). `FC_SEED=<int>` runs every
 * property with that seed instead (add `FC_PATH=<path>` to replay one counterexample as fast-check
 * printed it); `FC_SEED=random` draws a fresh seed per property and prints it, for hunting new
 * counterexamples (`FC_RUNS=<n>` runs each property n times instead). A counterexample found either way becomes a named regression case next to the
 * property, never only a new seed.
 */
import type { Parameters } from "fast-check";

export interface PropertyRun {
  /** The fixed seed CI runs the property with; written at the call, so a reader sees it there. */
  seed: number;
  /** Runs per test run (FC_RUNS overrides). */
  runs: number;
  /** Names the property when a random seed is printed. */
  label?: string;
}

/** Parameters for `fc.assert(property, seeded({ seed, runs, label }))`. */
export function seeded<T>(run: PropertyRun): Parameters<T> {
  const { label, runs: numRuns } = run;
  const env = process.env.FC_SEED;
  let seed = run.seed;
  if (env === "random") {
    seed = (Math.random() * 0x1_0000_0000) | 0;
    console.log(`fast-check ${label ?? "property"}: FC_SEED=${seed}`);
  } else if (env !== undefined && env !== "") {
    seed = Number(env);
    if (!Number.isSafeInteger(seed)) throw new Error(`FC_SEED must be an integer or "random", got ${env}`);
  }
  const path = process.env.FC_PATH;
  const runs = process.env.FC_RUNS ? Number(process.env.FC_RUNS) : numRuns;
  if (!Number.isSafeInteger(runs) || runs < 1) throw new Error(`FC_RUNS must be a positive integer`);
  return { seed, numRuns: runs, ...(path ? { path } : {}) };
}
