/**
 * The real stack one e2e file runs against: BIND 9 serving a zone, gRPC "Who" backends (answering with
 * their own address, serving grpc.health.v1) on loopback addresses sharing one port, and `dns-eds serve`
 * itself as a child process reading a YAML config file the test can rewrite. Nothing of dns-eds runs in
 * the test process: clients (grpc-js-xds, grpc-go, Envoy) see only its xDS port, the test only its admin
 * endpoints, log and signals.
 */
import { mkdirSync, mkdtempSync, renameSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { stringify } from "yaml";
import { type BindServer, type BindZone, startBindServer } from "../support/bind-server.js";
import { buildDnsEds, type DnsEdsProcess, spawnDnsEds } from "../support/dns-eds-process.js";
import { freePortOnAll, startWhoBackend, type WhoBackend } from "../support/grpc-backends.js";

/** A gRPC health check that flips on one probe, about three probes a second. */
export const FAST_GRPC_HEALTH = {
  type: "grpc",
  intervalMs: 300,
  timeoutMs: 250,
  healthyThreshold: 1,
  unhealthyThreshold: 1,
} as const;

export interface E2eStack {
  bind: BindServer;
  /** The one port every backend listens on. */
  port: number;
  backends: Map<string, WhoBackend>;
  dnsEds: DnsEdsProcess;
  /** Path of the built cli/main.js, to start more processes. */
  main: string;
  /** The config file dns-eds reads (rewrite it with writeConfig). */
  configPath: string;
  workDir: string;
  /**
   * Writes `config` as YAML where dns-eds reads it: the file itself, or with `symlinkConfig` a new
   * target swapped in by renaming a symlink over the config path (as a Kubernetes ConfigMap update).
   * Either way the file watcher sees it and the process reloads.
   */
  writeConfig(config: Record<string, unknown>): void;
  /**
   * With `symlinkConfig` only: rewrites the file the symlink points to in place, in a folder the
   * watcher does not watch, so only a SIGHUP makes the process read it.
   */
  writeConfigUnwatched(config: Record<string, unknown>): void;
  setServing(host: string, serving: boolean): void;
  stopBackend(host: string): void;
  restartBackend(host: string): Promise<void>;
  close(): Promise<void>;
}

export interface E2eStackOptions {
  /** Prefix of the private build folder (one build per file). */
  name: string;
  hosts: string[];
  /** Zones; each gets the backends' port. */
  zones: (port: number) => BindZone[];
  /** The whole dns-eds config; gets the BIND server and the backends' port. */
  config: (bind: BindServer, port: number) => Record<string, unknown>;
  /** The config path is a symlink into a data folder (see writeConfig, writeConfigUnwatched). */
  symlinkConfig?: boolean;
}

export async function startE2eStack(opts: E2eStackOptions): Promise<E2eStack> {
  const workDir = mkdtempSync(join(tmpdir(), `dns-eds-${opts.name}`));
  const etcDir = join(workDir, "etc");
  const dataDir = join(workDir, "data");
  mkdirSync(etcDir);
  mkdirSync(dataDir);
  const configPath = join(etcDir, "dns-eds.yaml");
  let generation = 0;
  let target = "";
  const writeConfig = (c: Record<string, unknown>) => {
    if (!opts.symlinkConfig) {
      writeFileSync(configPath, stringify(c));
      return;
    }
    target = join(dataDir, `config-${++generation}.yaml`);
    writeFileSync(target, stringify(c));
    const tmp = join(etcDir, `.swap-${generation}`);
    symlinkSync(target, tmp);
    renameSync(tmp, configPath);
  };
  const writeConfigUnwatched = (c: Record<string, unknown>) => {
    if (!opts.symlinkConfig) throw new Error("writeConfigUnwatched needs symlinkConfig");
    writeFileSync(target, stringify(c));
  };
  const backends = new Map<string, WhoBackend>();
  let bind: BindServer | undefined;
  let dnsEds: DnsEdsProcess | undefined;
  try {
    const port = await freePortOnAll(opts.hosts);
    const [main] = await Promise.all([
      buildDnsEds(`${opts.name}-`),
      (async () => {
        for (const h of opts.hosts) backends.set(h, await startWhoBackend(h, port));
      })(),
      (async () => {
        bind = await startBindServer({ zones: opts.zones(port), ipv6: opts.hosts.includes("::1") });
      })(),
    ]);
    const b = bind as unknown as BindServer;
    writeConfig(opts.config(b, port));
    dnsEds = await spawnDnsEds({ main, config: configPath, cwd: workDir });
    const running = dnsEds;
    return {
      bind: b,
      port,
      backends,
      dnsEds: running,
      main,
      configPath,
      workDir,
      writeConfig,
      writeConfigUnwatched,
      setServing: (host, serving) =>
        backends.get(host)?.health.setStatus("", serving ? "SERVING" : "NOT_SERVING"),
      stopBackend: (host) => {
        backends.get(host)?.server.forceShutdown();
        backends.delete(host);
      },
      restartBackend: async (host) => {
        backends.set(host, await startWhoBackend(host, port));
      },
      close: async () => {
        await running.kill();
        for (const w of backends.values()) w.server.forceShutdown();
        await b.stop();
        rmSync(workDir, { recursive: true, force: true });
      },
    };
  } catch (err) {
    await dnsEds?.kill();
    for (const w of backends.values()) w.server.forceShutdown();
    await bind?.stop();
    rmSync(workDir, { recursive: true, force: true });
    throw err;
  }
}

/** A grpc-js-xds / grpc-go bootstrap pointing at dns-eds. */
export function xdsBootstrap(xdsServer: string, nodeId: string, zone?: string): string {
  return JSON.stringify({
    xds_servers: [
      { server_uri: xdsServer, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] },
    ],
    node: { id: nodeId, locality: { region: "r1", ...(zone ? { zone } : {}) } },
  });
}
