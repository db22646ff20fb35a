/**
 * Loads a config file in a worker thread. YAML parsing and validation are synchronous and take
 * seconds for configs with thousands of clusters (bench/config-load.mjs); on a reload that would stall
 * every xDS stream and keepalive of the running server, so reloads parse off the event loop.
 */
import { resolve as resolvePath } from "node:path";
import { Worker } from "node:worker_threads";
import { ConfigError } from "./config-error.js";
import type { LoadReply, LoadRequest } from "./config-load-thread.js";
import type { DnsEdsConfig } from "./config-types.js";
import { deepFreeze } from "./deep-freeze.js";

/** Same result as loadConfigFile (frozen config, or ConfigError), computed in a worker thread. */
export function loadConfigFileOffThread(
  path: string,
  opts: { timeoutMs?: number } = {},
): Promise<DnsEdsConfig> {
  const timeoutMs = opts.timeoutMs ?? 60_000;
  const request: LoadRequest = { path: resolvePath(path) };
  return new Promise((resolve, reject) => {
    const worker = new Worker(new URL("./config-load-thread.js", import.meta.url), { workerData: request });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      void worker.terminate();
      fn();
    };
    const timer = setTimeout(
      () => finish(() => reject(new Error(`loading ${path} took more than ${timeoutMs} ms`))),
      timeoutMs,
    );
    worker.once("message", (reply: LoadReply) => {
      finish(() => {
        if (reply.ok) resolve(deepFreeze(reply.config as DnsEdsConfig));
        else if ("configError" in reply)
          reject(new ConfigError(reply.configError.source, reply.configError.problems));
        else reject(new Error(`loading ${path} failed in the worker: ${reply.failure}`));
      });
    });
    worker.once("error", (err) => finish(() => reject(err)));
    worker.once("exit", (code) =>
      finish(() => reject(new Error(`config worker exited with ${code} before answering`))),
    );
  });
}
