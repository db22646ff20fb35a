/**
 * Test helper: the real stack grpc-go is pointed at in test/grpc-go — BIND 9 serving a test zone, Who
 * backends (grpc-js servers that answer with their own address and serve grpc.health.v1) on loopback
 * addresses, and dns-eds itself through `startServer` (src/app/serve.ts) from a config object, exactly as
 * `dns-eds serve` wires it. dns-eds's log is read back so a test can list the NACKs it received and from
 * which node.
 */
import { Writable } from "node:stream";
import { createLogger } from "../../src/admin/logger.js";
import { type RunningControlPlane, startServer } from "../../src/app/serve.js";
import { parseConfigObject } from "../../src/config/load-config.js";
import { type BindServer, type BindZone, startBindServer } from "../support/bind-server.js";
import { freePortOnAll, startWhoBackend, type WhoBackend } from "../support/grpc-backends.js";

export interface Nack {
  node: string | undefined;
  typeUrl: string;
  detail: string;
}

export interface GoStack {
  bind: BindServer;
  app: RunningControlPlane;
  /** `127.0.0.1:PORT` of dns-eds's xDS server. */
  xdsServer: string;
  /** The one port every backend listens on. */
  port: number;
  backends: Map<string, WhoBackend>;
  /** NACKs dns-eds logged ("xds NACK"), in order. */
  nacks: Nack[];
  setZone(records: string): Promise<void>;
  /** Sets a backend's grpc.health.v1 status for the whole server (""). */
  setServing(host: string, serving: boolean): void;
  /** Stops a backend (its port then refuses connections). */
  stopBackend(host: string): void;
  /** Starts a stopped backend again on the same address and port. */
  restartBackend(host: string): Promise<void>;
  /** Applies a new `clusters` list as a config reload does (same streams). */
  reload(clusters: (port: number) => unknown[]): Promise<void>;
  stop(): Promise<void>;
}

export interface GoStackOptions {
  origin: string;
  hosts: string[];
  /** Zone file lines; gets the backends' port. */
  records: (port: number) => string;
  /** The `clusters` list of a dns-eds config; gets the backends' port. */
  clusters: (port: number) => unknown[];
}

/** A fast gRPC health check: one probe flips the state, ~3 probes a second per endpoint. */
export const FAST_GRPC_HEALTH = {
  type: "grpc",
  intervalMs: 300,
  timeoutMs: 250,
  healthyThreshold: 1,
  unhealthyThreshold: 1,
} as const;

export async function startGoStack(opts: GoStackOptions): Promise<GoStack> {
  const stops: Array<() => Promise<void> | void> = [];
  const stop = async () => {
    for (const s of stops.reverse()) await s();
  };
  try {
    const port = await freePortOnAll(opts.hosts);
    const backends = new Map<string, WhoBackend>();
    stops.push(() => {
      for (const b of backends.values()) b.server.forceShutdown();
    });
    for (const h of opts.hosts) backends.set(h, await startWhoBackend(h, port));

    const zone = (records: string): BindZone => ({ origin: opts.origin, records, negativeTtl: 1 });
    const bind = await startBindServer({ zones: [zone(opts.records(port))] });
    stops.push(() => bind.stop());

    const nacks: Nack[] = [];
    const logSink = new Writable({
      write(chunk: Buffer, _enc, done) {
        for (const text of chunk.toString().split("\n")) {
          if (!text.includes('"xds NACK"')) continue;
          try {
            const l = JSON.parse(text) as { node?: string; typeUrl?: string; detail?: string };
            nacks.push({ node: l.node, typeUrl: l.typeUrl ?? "?", detail: l.detail ?? "" });
          } catch {
            nacks.push({ node: undefined, typeUrl: "?", detail: text });
          }
        }
        done();
      },
    });
    const config = (clusters: unknown[]) =>
      parseConfigObject(
        {
          xds: { listen: "127.0.0.1:0", limits: { debounceMs: 20 } },
          admin: { listen: "127.0.0.1:0" },
          dns: { servers: [bind.server], timeoutMs: 300, attempts: 2, minTtl: 1, allowLoopback: true },
          clusters,
        },
        { source: "grpc-go stack" },
      );
    const app = await startServer(config(opts.clusters(port)), {
      logger: createLogger({ level: "warn", destination: logSink }),
    });
    stops.push(() => app.stop());

    return {
      bind,
      app,
      xdsServer: `127.0.0.1:${app.xdsPort}`,
      port,
      backends,
      nacks,
      setZone: (records) => bind.setZone(zone(records)),
      setServing(host, serving) {
        const b = backends.get(host);
        if (!b) throw new Error(`no backend on ${host}`);
        b.health.setStatus("", serving ? "SERVING" : "NOT_SERVING");
      },
      stopBackend(host) {
        backends.get(host)?.server.forceShutdown();
        backends.delete(host);
      },
      async restartBackend(host) {
        if (!backends.has(host)) backends.set(host, await startWhoBackend(host, port));
      },
      reload: async (clusters) => {
        await app.reload(config(clusters(port)));
      },
      stop,
    };
  } catch (e) {
    await stop();
    throw e;
  }
}
