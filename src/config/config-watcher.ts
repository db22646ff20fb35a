/**
 * Hot reload: on SIGHUP or when the file changes, re-read and re-validate it. A valid file that differs
 * from the running one is handed to `onChange`; an invalid one keeps the running config, is logged and
 * counted, so a bad edit never takes a running control plane down.
 */
import { type FSWatcher, watch } from "node:fs";
import { basename, dirname, resolve } from "node:path";
import type { DnsEdsConfig } from "./config-types.js";
import { loadConfigFile } from "./load-config.js";

export type ReloadOutcome =
  | { status: "applied"; config: DnsEdsConfig }
  | { status: "unchanged" }
  | { status: "invalid"; error: unknown };

/** The subset of a pino logger the watcher writes to. */
export interface WatcherLogger {
  info(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}

export interface ConfigWatcherOptions {
  path: string;
  /** The config running now; reloads that produce the same content are not reported. */
  initial: DnsEdsConfig;
  onChange: (config: DnsEdsConfig) => void | Promise<void>;
  /** Called when a reload read the same content as the running config (count it as a metric). */
  onUnchanged?: () => void;
  /** Called for every rejected reload (count it as a metric). */
  onReloadError?: (error: unknown) => void;
  load?: (path: string) => Promise<DnsEdsConfig>;
  logger?: WatcherLogger;
  /** Editors write a file in several steps; wait this long after the last event (default 200 ms). */
  debounceMs?: number;
  /** Where SIGHUP comes from (default `process`); `null` disables signal handling. */
  signals?: Pick<NodeJS.EventEmitter, "on" | "off"> | null;
  /** Watch the file's folder for changes (default true). */
  watchFile?: boolean;
}

export interface ConfigWatcher {
  /** Reload now, as SIGHUP does. Concurrent calls share one reload, plus one more if asked meanwhile. */
  reloadNow(reason?: string): Promise<ReloadOutcome>;
  current(): DnsEdsConfig;
  close(): void;
}

/** Compares configs by content; `source` is a label, not content. */
function contentKey(config: DnsEdsConfig): string {
  const { source: _source, ...rest } = config;
  return JSON.stringify(rest);
}

export function createConfigWatcher(opts: ConfigWatcherOptions): ConfigWatcher {
  const path = resolve(opts.path);
  const load = opts.load ?? ((p: string) => loadConfigFile(p));
  const debounceMs = opts.debounceMs ?? 200;
  const signals = opts.signals === undefined ? process : opts.signals;
  let current = opts.initial;
  let currentKey = contentKey(current);
  let closed = false;
  let running: Promise<ReloadOutcome> | undefined;
  let again: Promise<ReloadOutcome> | undefined;
  let timer: NodeJS.Timeout | undefined;
  let watcher: FSWatcher | undefined;

  const reloadOnce = async (reason: string): Promise<ReloadOutcome> => {
    let next: DnsEdsConfig;
    try {
      next = await load(path);
    } catch (error) {
      opts.logger?.error({ err: error, reason, path }, "config reload rejected; keeping the running config");
      opts.onReloadError?.(error);
      return { status: "invalid", error };
    }
    const key = contentKey(next);
    if (key === currentKey || closed) {
      if (!closed) opts.onUnchanged?.();
      return { status: "unchanged" };
    }
    try {
      await opts.onChange(next);
    } catch (error) {
      // Not applied: the running config stays current, so the next SIGHUP or save tries again.
      opts.logger?.error(
        { err: error, reason, path },
        "applying the reloaded config failed; keeping the running config",
      );
      opts.onReloadError?.(error);
      return { status: "invalid", error };
    }
    current = next;
    currentKey = key;
    // What was applied and what needs a restart is onChange's to say (the reload framework knows).
    opts.logger?.info({ reason, path, clusters: next.clusters.length }, "config file changed");
    return { status: "applied", config: next };
  };

  const reloadNow = (reason = "manual"): Promise<ReloadOutcome> => {
    if (!running) {
      running = reloadOnce(reason).finally(() => {
        running = undefined;
      });
      return running;
    }
    // A change arrived during a reload: read the file once more after it, whatever the number of requests.
    again ??= running.then(() => {
      again = undefined;
      return reloadNow(reason);
    });
    return again;
  };

  const onSighup = () => {
    void reloadNow("SIGHUP");
  };
  signals?.on("SIGHUP", onSighup);

  if (opts.watchFile ?? true) {
    const name = basename(path);
    // Watching the folder survives editors and ConfigMaps that replace the file by rename.
    watcher = watch(dirname(path), { persistent: false }, (_event, filename) => {
      if (filename !== null && filename !== name && !String(filename).startsWith("..")) return;
      if (timer) clearTimeout(timer);
      timer = setTimeout(() => {
        timer = undefined;
        if (!closed) void reloadNow("file change");
      }, debounceMs);
    });
    watcher.on("error", (error) => opts.logger?.error({ err: error, path }, "config file watch failed"));
  }

  return {
    reloadNow,
    current: () => current,
    close() {
      closed = true;
      if (timer) clearTimeout(timer);
      watcher?.close();
      signals?.off("SIGHUP", onSighup);
    },
  };
}
