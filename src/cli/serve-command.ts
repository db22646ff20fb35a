/**
 * `dns-eds serve`: loads the config (a file, or the embedded default only when asked with `--embedded`),
 * starts the admin server and the control plane, reloads on SIGHUP and file changes (saying what was
 * applied and what needs a restart), and stops cleanly on SIGTERM/SIGINT. A missing or bad config exits
 * 2 before anything is bound.
 */
import { readFileSync } from "node:fs";
import type { Registry } from "prom-client";
import {
  type AdminProviders,
  type AdminServer,
  type AdminServerOptions,
  startAdminServer,
} from "../admin/admin-server.js";
import { componentLogger, createLogger, type Logger, type LogLevel } from "../admin/logger.js";
import { createMetrics, type DnsEdsMetrics } from "../admin/metrics.js";
import { ConfigError } from "../config/config-error.js";
import type { DnsEdsConfig } from "../config/config-types.js";
import { type ConfigWatcher, createConfigWatcher } from "../config/config-watcher.js";
import { describeReload, type ReloadReport } from "../config/live-reload.js";
import { loadConfigFile } from "../config/load-config.js";
import { loadConfigFileOffThread } from "../config/load-config-off-thread.js";
import { EXIT_BAD_CONFIG, EXIT_FAILURE, EXIT_OK } from "./exit-codes.js";
import { installProcessErrorPolicy } from "./process-error-policy.js";
import { packageVersion } from "./version.js";

/** What `startServer` of src/app/serve.ts returns. */
export interface ControlPlaneHandle {
  stop(): Promise<void>;
  reload(config: DnsEdsConfig): Promise<ReloadReport>;
  /** Sends xDS clients away gradually (the drain window); absent: stop() ends streams at once. */
  drain?(): Promise<void>;

  /** Keys whose new value waits for a restart (the reload framework's view). */
  reloads?: { pendingRestart(): string[]; current(): DnsEdsConfig };
  /** What the admin server shows; a control plane may instead call `opts.admin.setProviders` itself. */
  adminProviders?: AdminProviders;
}

export interface StartServerOptions {
  logger: Logger;
  metrics: DnsEdsMetrics;
  registry: Registry;
  admin: AdminServer;
}

export type StartServer = (config: DnsEdsConfig, opts: StartServerOptions) => Promise<ControlPlaneHandle>;

interface EmbeddedDefault {
  config: DnsEdsConfig;
  hints: string[];
  stop(): Promise<void>;
}

export interface ServeOptions {
  config?: string;
  /** Serve the embedded demo config (loopback DNS zone, demo clusters) instead of a file. */
  embedded?: boolean;
  logLevel?: LogLevel;
  /** Where SIGHUP/SIGTERM/SIGINT come from (default `process`). */
  signals?: Pick<NodeJS.EventEmitter, "on" | "off">;
  err?: (text: string) => void;
  /** The control plane to run (default: src/app/serve.ts). Tests inject one whose stop fails or hangs. */
  startServer?: StartServer;
  /** Beyond drain delay + window + grace, how long stopping may take before giving up (default 10 s). */
  stopSlackMs?: number;
}

// Variable specifiers: these modules belong to other parts of the project and are loaded only when used,
// so `validate` and `--help` work (and build) without them.
const APP_MODULE = "../app/serve.js";
const EMBEDDED_MODULE = "../demo/embedded-default.js";

async function importStartServer(): Promise<StartServer> {
  const mod = (await import(APP_MODULE)) as { startServer?: StartServer };
  if (typeof mod.startServer !== "function") throw new Error(`${APP_MODULE} exports no startServer`);
  return mod.startServer;
}

async function startEmbedded(): Promise<EmbeddedDefault> {
  const mod = (await import(EMBEDDED_MODULE)) as { startEmbeddedDefault?: () => Promise<EmbeddedDefault> };
  if (typeof mod.startEmbeddedDefault !== "function")
    throw new Error(`${EMBEDDED_MODULE} exports no startEmbeddedDefault`);
  return mod.startEmbeddedDefault();
}

const STOP_SLACK_MS = 10_000;

/** Runs until a stop signal; resolves with the process exit code. */
export async function runServe(opts: ServeOptions): Promise<number> {
  const err = opts.err ?? ((t: string) => process.stderr.write(t));
  const signals = opts.signals ?? process;
  const root = createLogger({ level: opts.logLevel ?? "info" });
  const log = componentLogger(root, "serve");

  // 1. Config first: a missing or bad file must exit before any port is bound. A container that lost
  // its config must fail, not start the demo: the embedded default is only served when asked for.
  let config: DnsEdsConfig | undefined;
  let embedded: EmbeddedDefault | undefined;
  if (opts.config !== undefined && opts.embedded) {
    err("dns-eds serve: give either --config (or DNS_EDS_CONFIG) or --embedded, not both\n");
    return EXIT_BAD_CONFIG;
  }
  if (opts.config === undefined && !opts.embedded) {
    err(
      "dns-eds serve: no config. Give --config FILE (or set DNS_EDS_CONFIG); " +
        "for the built-in demo config use --embedded (or npm start, dns-eds demo).\n",
    );
    return EXIT_BAD_CONFIG;
  }
  if (opts.config !== undefined) {
    try {
      config = await loadConfigFile(opts.config);
    } catch (e) {
      if (e instanceof ConfigError) {
        err(`${e.message}\n`);
        return EXIT_BAD_CONFIG;
      }
      throw e;
    }
  }

  let startServer: StartServer;
  try {
    startServer = opts.startServer ?? (await importStartServer());
  } catch (e) {
    err(`dns-eds: the control plane is not available in this build (${(e as Error).message})\n`);
    return EXIT_FAILURE;
  }

  const toClose: Array<() => Promise<void>> = [];
  const closeAll = async () => {
    for (const close of toClose.reverse()) {
      try {
        await close();
      } catch (e) {
        log.error({ err: e }, "error while stopping");
      }
    }
  };

  try {
    if (opts.config === undefined) {
      embedded = await startEmbedded();
      toClose.push(() => (embedded as EmbeddedDefault).stop());
      config = embedded.config;
      log.info("--embedded: running the embedded default (demo zone served in-process)");
      for (const hint of embedded.hints) log.info(hint);
    }
    if (config === undefined) throw new Error("no config");
    const running: DnsEdsConfig = config;

    const metrics = createMetrics({ version: packageVersion() });
    // Errors nothing caught: a rejection is logged and counted, an exception ends the process (why:
    // process-error-policy.ts). Removed again when serve returns.
    const removeErrorPolicy = installProcessErrorPolicy({
      logger: componentLogger(root, "process"),
      count: (k) => metrics.processError(k),
    });
    toClose.push(async () => removeErrorPolicy());
    const admin = await startAdminServer({
      listen: running.admin.listen,
      registry: metrics.registry,
      logger: componentLogger(root, "admin"),
      ...adminAccess(running.admin),
      onUnauthorized: () => metrics.adminUnauthorized(),
    });
    toClose.push(() => admin.close());
    log.info({ url: admin.url }, "admin listening");

    const app = await startServer(running, { logger: root, metrics, registry: metrics.registry, admin });
    toClose.push(() => app.stop());
    if (app.adminProviders) admin.setProviders(app.adminProviders);
    log.info(
      { clusters: running.clusters.length, xds: running.xds.listen, source: running.source },
      "serving",
    );

    let watcher: ConfigWatcher | undefined;
    if (opts.config !== undefined) {
      watcher = createConfigWatcher({
        path: opts.config,
        initial: running,
        // Parsing runs in a worker so a big file does not stall the streams being served meanwhile.
        load: (path) => loadConfigFileOffThread(path),
        signals,
        logger: componentLogger(root, "config"),
        onChange: async (next) => {
          const report = await app.reload(next);
          metrics.configReload(report.outcome);
          metrics.setRestartPending(app.reloads?.pendingRestart() ?? report.needsRestart);
          const fields = {
            outcome: report.outcome,
            applied: report.applied,
            needsRestart: report.needsRestart,
            ...(report.failed.length > 0 ? { failed: report.failed } : {}),
          };
          if (report.outcome === "partial") log.warn(fields, describeReload(report));
          else log.info(fields, describeReload(report));
        },
        onUnchanged: () => metrics.configReload("unchanged"),
        onReloadError: () => metrics.configReload("invalid"),
      });
      const w = watcher;
      toClose.push(async () => w.close());
    }

    return await new Promise<number>((resolve) => {
      let stopping = false;
      let wake: (() => void) | undefined;
      const stop = (signal: string) => {
        if (stopping) {
          log.warn({ signal }, "second stop signal: exiting at once");
          wake?.();
          resolve(EXIT_FAILURE);
          return;
        }
        stopping = true;
        // Whatever happens while stopping (a drain or close that throws, a log write to a closed pipe),
        // the process must still exit: a stop that never resolves leaves a half-closed replica behind.
        const s0 = (app.reloads?.current() ?? running).shutdown;
        const budgetMs =
          s0.drainDelayMs + s0.drainWindowMs + s0.graceMs + (opts.stopSlackMs ?? STOP_SLACK_MS);
        const overdue = setTimeout(() => {
          err(
            `dns-eds: stopping took longer than ${budgetMs} ms (drain delay + window + grace + slack); exiting\n`,
          );
          resolve(EXIT_FAILURE);
        }, budgetMs);
        overdue.unref();
        void (async () => {
          // SIGTERM (Kubernetes, docker stop) drains: not ready at once, serve on for the delay (load
          // balancers stop sending new clients here), then send clients away a few at a time over the
          // window, then give the rest the grace period. SIGINT (Ctrl-C) stops at once.
          const s = (app.reloads?.current() ?? running).shutdown;
          admin.setDraining(`shutting down (${signal})`);
          if (signal === "SIGTERM" && app.drain) {
            log.info(
              { signal, drainDelayMs: s.drainDelayMs, drainWindowMs: s.drainWindowMs, graceMs: s.graceMs },
              "draining: /readyz is 503; xDS clients will be sent away over the drain window",
            );
            await new Promise<void>((r) => {
              wake = r;
              setTimeout(r, s.drainDelayMs);
            });
            await app.drain();
          } else {
            log.info({ signal }, "stopping");
          }
        })()
          .then(
            () => EXIT_OK,
            (e: unknown) => {
              err(`dns-eds: error while stopping: ${(e as Error)?.message ?? String(e)}\n`);
              return EXIT_FAILURE;
            },
          )
          .then(async (code) => {
            await closeAll();
            signals.off("SIGTERM", onTerm);
            signals.off("SIGINT", onInt);
            clearTimeout(overdue);
            resolve(code);
          });
      };
      const onTerm = () => stop("SIGTERM");
      const onInt = () => stop("SIGINT");
      signals.on("SIGTERM", onTerm);
      signals.on("SIGINT", onInt);
    });
  } catch (e) {
    if (e instanceof ConfigError) {
      err(`${e.message}\n`);
      await closeAll();
      return EXIT_BAD_CONFIG;
    }
    log.error({ err: e }, "start failed");
    err(`dns-eds: ${(e as Error).message ?? String(e)}\n`);
    await closeAll();
    return EXIT_FAILURE;
  }
}

/** The admin port's token and TLS material, read from the files the config names. */
function adminAccess(a: DnsEdsConfig["admin"]): Pick<AdminServerOptions, "token" | "tls" | "maxConnections"> {
  const token = a.tokenFile !== undefined ? readFileSync(a.tokenFile, "utf8").trim() : undefined;
  if (token !== undefined && token.length < 16)
    throw new Error(`admin.tokenFile ${a.tokenFile}: expected a token of at least 16 characters`);
  return {
    maxConnections: a.maxConnections,
    ...(token !== undefined ? { token } : {}),
    ...(a.tls
      ? {
          tls: {
            cert: readFileSync(a.tls.certFile),
            key: readFileSync(a.tls.keyFile),
            ...(a.tls.caFile ? { ca: readFileSync(a.tls.caFile) } : {}),
          },
        }
      : {}),
  };
}
