/**
 * Worker-thread side of `loadConfigFileOffThread`: loads and validates one file and posts back either
 * the runtime config (plain data) or the ConfigError's problems. Runs only as a worker.
 */
import { parentPort, workerData } from "node:worker_threads";
import { ConfigError } from "./config-error.js";
import { loadConfigFile } from "./load-config.js";

export interface LoadRequest {
  path: string;
}

export type LoadReply =
  | { ok: true; config: unknown }
  | { ok: false; configError: { source: string; problems: Array<{ path: string; message: string }> } }
  | { ok: false; failure: string };

const request = workerData as LoadRequest;
let reply: LoadReply;
try {
  reply = { ok: true, config: await loadConfigFile(request.path) };
} catch (err) {
  reply =
    err instanceof ConfigError
      ? { ok: false, configError: { source: err.source, problems: [...err.problems] } }
      : { ok: false, failure: (err as Error)?.stack ?? String(err) };
}
parentPort?.postMessage(reply);
