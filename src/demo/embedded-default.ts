/**
 * The built-in configuration `npm start` (`dns-eds serve --embedded`) runs: clusters whose names live in
 * the demo zone, served by the embedded zone server on loopback. It needs no etcd and no outside DNS,
 * so a newcomer's first command already serves real endpoints over xDS.
 */
import { fileURLToPath } from "node:url";
import { stringify } from "yaml";
import type { DnsEdsConfig } from "../config/config-types.js";
import { parseConfigObject } from "../config/load-config.js";
import { type DemoBackend, startBackends } from "./backends.js";
import { startZoneServer, type ZoneServer } from "./zone-server.js";

/** The demo zone shipped in examples/demo/ (also in the npm package, see package.json "files"). */
export const DEMO_ZONE_URL = new URL("../../examples/demo/demo.zone", import.meta.url);
export const DEMO_ORIGIN = "demo.dns-eds.test";
/** Port the demo backends serve on, as written in the demo zone's SRV records. */
export const DEMO_BACKEND_PORT = 50051;

export interface EmbeddedConfigOptions {
  /** Address of the embedded DNS server (default 127.0.0.1). */
  zoneHost?: string;
  /** xDS listen address (default loopback: the embedded default is for trying things on one machine). */
  xdsListen?: string;
  adminListen?: string;
  /** Port of the backends behind the `echo` name (default 50051). */
  backendPort?: number;
  /** Add gRPC health checks (the demo runs real backends; `npm start` alone does not). */
  healthChecks?: boolean;
}

/**
 * The embedded default as it would be written in `dns-eds.yaml` (file shape, before defaults), so it
 * can be shown to the user and goes through the same validation as any file.
 */
export function defaultEmbeddedConfigObject(zonePort: number, opts: EmbeddedConfigOptions = {}) {
  const host = opts.zoneHost ?? "127.0.0.1";
  const server = host.includes(":") ? `[${host}]:${zonePort}` : `${host}:${zonePort}`;
  const port = opts.backendPort ?? DEMO_BACKEND_PORT;
  const healthCheck = opts.healthChecks
    ? {
        healthCheck: {
          type: "grpc",
          intervalMs: 1000,
          timeoutMs: 500,
          healthyThreshold: 1,
          unhealthyThreshold: 1,
        },
      }
    : {};
  return {
    xds: { listen: opts.xdsListen ?? "127.0.0.1:18000" },
    admin: { listen: opts.adminListen ?? "127.0.0.1:19000" },
    // Short timeouts and TTL floor: the embedded server is on loopback and the demo changes records live.
    // The demo's backends are on loopback, so it opts out of the rebinding guard's loopback rule.
    dns: { servers: [server], timeoutMs: 300, attempts: 2, minTtl: 1, allowLoopback: true },
    clusters: [
      {
        name: "echo",
        dns: { name: `echo.${DEMO_ORIGIN}`, port },
        ipFamily: "V4_PREFERRED",
        grpcListener: true,
        txtMetadata: true,
        ...healthCheck,
      },
      {
        name: "echo-srv",
        srv: { name: `_grpc._tcp.echo.${DEMO_ORIGIN}` },
        ipFamily: "ALL",
        grpcListener: true,
        ...healthCheck,
      },
    ],
  };
}

/** The same, as YAML text (what `dns-eds serve` prints so a user can copy it into a file). */
export function defaultEmbeddedConfigYaml(zonePort: number, opts: EmbeddedConfigOptions = {}): string {
  return stringify(defaultEmbeddedConfigObject(zonePort, opts));
}

/** The embedded default as the validated, frozen runtime config. Throws ConfigError if it ever drifts. */
export function defaultEmbeddedConfig(zonePort: number, opts: EmbeddedConfigOptions = {}): DnsEdsConfig {
  return parseConfigObject(defaultEmbeddedConfigObject(zonePort, opts), { source: "<embedded>" });
}

export interface EmbeddedDefault {
  config: DnsEdsConfig;
  zone: ZoneServer;
  /** The demo backends started with it (empty when disabled or their port was taken). */
  backends: DemoBackend[];
  /** Lines to print at start: where DNS is served and where to point a client. */
  hints: string[];
  stop(): Promise<void>;
}

/**
 * Starts the embedded zone server (free port on loopback) and returns the config that points at it.
 * The caller starts the control plane with `config` and calls `stop()` after it.
 */
export async function startEmbeddedDefault(
  opts: EmbeddedConfigOptions & {
    zonePort?: number;
    /** Zone file to serve and watch (default examples/demo/demo.zone). */
    zoneFile?: string;
    /** Told about each reload of the watched zone file (default: one line on stderr). */
    onZoneReload?: (error?: Error) => void;
    /**
     * Also run the demo's gRPC backends behind the zone's names (default true), so a client pointed
     * at the printed target gets answers. Skipped, with a hint, when their port is taken.
     */
    backends?: boolean;
  } = {},
): Promise<EmbeddedDefault> {
  const zoneFile = opts.zoneFile ?? fileURLToPath(DEMO_ZONE_URL);
  const report = (err?: Error) =>
    process.stderr.write(
      err
        ? `embedded zone ${zoneFile}: ${err.message} (still serving the previous zone)\n`
        : `embedded zone ${zoneFile}: reloaded\n`,
    );
  const zone = await startZoneServer({
    zoneFile,
    // Editing the zone file is the quickest way to see dns-eds follow DNS, so it is served live.
    watch: true,
    onReload: opts.onZoneReload ?? report,
    host: opts.zoneHost ?? "127.0.0.1",
    port: opts.zonePort ?? 0,
  });
  let config: DnsEdsConfig;
  try {
    config = defaultEmbeddedConfig(zone.port, opts);
  } catch (err) {
    await zone.close();
    throw err;
  }
  const backendPort = opts.backendPort ?? DEMO_BACKEND_PORT;
  let backends: DemoBackend[] = [];
  let backendHint: string | undefined;
  if (opts.backends ?? true) {
    try {
      ({ backends } = await startBackends(
        [
          { name: "backend-1", hosts: ["127.0.0.1", "::1"] },
          { name: "backend-2", hosts: ["127.0.0.2"] },
          { name: "backend-3", hosts: ["127.0.0.3"] },
        ],
        { port: backendPort },
      ));
      backendHint = `demo backends (demo.Echo/Hello) on 127.0.0.1, 127.0.0.2, 127.0.0.3 and [::1] port ${backendPort}: try \`node examples/grpc-proxyless/client.mjs xds:///echo\``;
    } catch (err) {
      // The endpoints are published either way; only calls through them need the backends.
      backendHint = `no demo backends (${(err as Error).message}); endpoints are published anyway`;
    }
  }
  const hints = [
    `embedded DNS: zone ${zone.origin} on ${zone.server} (udp+tcp), e.g. dig @${zone.address} -p ${zone.port} echo.${DEMO_ORIGIN}`,
    `edit ${zoneFile} to change the records: the file is watched and served at once`,
    `xDS (ADS) on ${config.xds.listen}: point Envoy's ads_config or a gRPC bootstrap "server_uri" there`,
    `proxyless gRPC targets: ${config.clusters
      .filter((c) => c.grpcListener)
      .map((c) => `xds:///${c.name}`)
      .join(", ")} (see examples/grpc-proxyless/)`,
    `admin: http://${config.admin.listen}/clusters`,
    ...(backendHint ? [backendHint] : []),
  ];
  return {
    config,
    zone,
    backends,
    hints,
    async stop() {
      for (const b of backends) await b.stop();
      await zone.close();
    },
  };
}
