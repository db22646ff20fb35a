// Which cores the server under test and the load get: the server alone on core 0, everything else (load
// client processes, named, the bench driver itself) on the other cores, so the server's CPU is its own.
// On a one-core machine nothing is pinned and the bench says so.
import { spawnSync } from "node:child_process";
import { cpus } from "node:os";

export function coreLayout() {
  const n = cpus().length;
  if (n < 2) return { server: undefined, others: undefined, clientCpus: [], pinned: false };
  const others = n === 2 ? "1" : `1-${n - 1}`;
  const clientCpus = Array.from({ length: n - 1 }, (_, i) => String(i + 1));
  return { server: "0", others, clientCpus, pinned: true };
}

/** Moves this process (all its threads) off the server core. */
export function pinSelf(layout) {
  if (!layout.pinned) return;
  spawnSync("taskset", ["-a", "-cp", layout.others, String(process.pid)], { stdio: "ignore" });
}
