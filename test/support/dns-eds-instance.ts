/**
 * Test helper: the whole control plane in the test process, as `dns-eds serve` wires it (`startServer`
 * from src/app/serve.ts) plus its admin server, from a config object. Restartable on the same xDS port,
 * so a client (Envoy) configured with that port reconnects to the new process.
 *
 *   const cp = await startDnsEds({ dns: { servers: [bind.server], minTtl: 1, allowLoopback: true }, clusters: [...] });
 *   cp.xdsPort; cp.adminUrl; await cp.adminJson("/clusters?format=json"); await cp.metric("dnseds_xds_nacks_total")
 *   await cp.stop(); await cp.start();   // control-plane loss and restart, same ports
 *
 * Defaults: xDS and admin on 127.0.0.1 (port 0 the first time, then kept), debounce 20 ms, silent logs.
 */
import { type AdminServer, startAdminServer } from "../../src/admin/admin-server.js";
import { createLogger } from "../../src/admin/logger.js";
import { createMetrics, type DnsEdsMetrics } from "../../src/admin/metrics.js";
import { type RunningControlPlane, startServer } from "../../src/app/serve.js";
import { parseConfigObject } from "../../src/config/load-config.js";
import type { ResourceStore } from "../../src/xds/resource-store.js";

export interface DnsEdsInstance {
  readonly xdsPort: number;
  readonly adminUrl: string;
  /** The running control plane (undefined while stopped). */
  readonly app: RunningControlPlane | undefined;
  adminJson(path: string): Promise<unknown>;
  /** Sum of a Prometheus metric's samples whose label text contains `labelFilter` (0 when absent). */
  metric(name: string, labelFilter?: string): Promise<number>;
  /** Applies a new config object (clusters change live, as on SIGHUP). */
  reload(config: Record<string, unknown>): Promise<void>;
  start(): Promise<void>;
  stop(): Promise<void>;
}

export interface DnsEdsInstanceOptions {
  replicaId?: string;
  /** A store per start, e.g. `() => new ResourceStore({ skipValidation: true })` to publish what clients reject. */
  store?: () => ResourceStore;
  logLevel?: string;
}

export async function startDnsEds(
  raw: Record<string, unknown>,
  opts: DnsEdsInstanceOptions = {},
): Promise<DnsEdsInstance> {
  let current: Record<string, unknown> = raw;
  let xdsPort = 0;
  let adminPort = 0;
  let app: RunningControlPlane | undefined;
  let admin: AdminServer | undefined;
  let metrics: DnsEdsMetrics | undefined;

  const configFor = (r: Record<string, unknown>) => {
    const xds = (r.xds ?? {}) as Record<string, unknown>;
    const limits = (xds.limits ?? {}) as Record<string, unknown>;
    return parseConfigObject(
      {
        ...r,
        xds: { ...xds, listen: `127.0.0.1:${xdsPort}`, limits: { debounceMs: 20, ...limits } },
        admin: { listen: `127.0.0.1:${adminPort}` },
      },
      { source: "test" },
    );
  };

  const instance: DnsEdsInstance = {
    get xdsPort() {
      return xdsPort;
    },
    get adminUrl() {
      return `http://127.0.0.1:${adminPort}`;
    },
    get app() {
      return app;
    },
    async adminJson(path) {
      const res = await fetch(`http://127.0.0.1:${adminPort}${path}`, { signal: AbortSignal.timeout(5_000) });
      return res.json();
    },
    async metric(name, labelFilter = "") {
      const res = await fetch(`http://127.0.0.1:${adminPort}/metrics`, {
        signal: AbortSignal.timeout(5_000),
      });
      let sum = 0;
      for (const line of (await res.text()).split("\n")) {
        if (!line.startsWith(name)) continue;
        const m = /^([a-z_:]+)(\{[^}]*\})? (\S+)$/.exec(line);
        if (m?.[1] !== name || !(m[2] ?? "").includes(labelFilter)) continue;
        sum += Number(m[3]);
      }
      return sum;
    },
    async reload(next) {
      current = next;
      await app?.reload(configFor(next));
    },
    async start() {
      if (app) return;
      metrics = createMetrics({ processMetrics: false });
      const logger = createLogger({ level: (opts.logLevel ?? "silent") as "silent" });
      const a = await startServer(configFor(current), {
        logger,
        metrics,
        ...(opts.replicaId ? { replicaId: opts.replicaId } : {}),
        ...(opts.store ? { store: opts.store() } : {}),
      });
      app = a;
      xdsPort = a.xdsPort;
      admin = await startAdminServer({
        listen: `127.0.0.1:${adminPort}`,
        registry: metrics.registry,
        ...a.adminProviders,
      });
      adminPort = Number(new URL(admin.url).port);
    },
    async stop() {
      const a = app;
      const ad = admin;
      app = undefined;
      admin = undefined;
      await ad?.close();
      await a?.stop();
    },
  };
  await instance.start();
  return instance;
}
