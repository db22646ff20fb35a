/**
 * The demo's proxyless gRPC client: dials `xds:///NAME` through @grpc/grpc-js-xds with a bootstrap
 * pointing at the control plane, and keeps a steady trickle of calls going so the demo can show where
 * they land. @grpc/grpc-js-xds is a devDependency, so it is imported lazily and its absence is a
 * clear error rather than a crash at load time.
 */
import * as grpc from "@grpc/grpc-js";
import { EchoClient, type EchoClientInstance, type HelloReply } from "./backends.js";
import type { CallStats } from "./call-stats.js";

export class DemoClientError extends Error {
  readonly code = "ERR_DEMO_XDS_CLIENT_MISSING";
  constructor(message: string) {
    super(message);
    this.name = "DemoClientError";
  }
}

export interface XdsLoadOptions {
  /** e.g. "xds:///echo". */
  target: string;
  /** `host:port` of the xDS server. */
  xdsServer: string;
  stats: CallStats;
  /** Calls in flight at once (default 2). */
  concurrency?: number;
  /** Pause between a worker's calls (default 40 ms). */
  pauseMs?: number;
  nodeId?: string;
}

export interface XdsLoadClient {
  stop(): Promise<void>;
}

/** The bootstrap a proxyless client needs (gRFC A27): one server, insecure creds, xDS v3. */
export function demoBootstrap(xdsServer: string, nodeId: string): string {
  return JSON.stringify({
    xds_servers: [
      { server_uri: xdsServer, channel_creds: [{ type: "insecure" }], server_features: ["xds_v3"] },
    ],
    node: { id: nodeId, cluster: "dns-eds-demo", locality: { region: "local", zone: "a" } },
  });
}

const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

export async function startXdsLoad(opts: XdsLoadOptions): Promise<XdsLoadClient> {
  let xds: { register(): void };
  try {
    xds = (await import("@grpc/grpc-js-xds")) as { register(): void };
  } catch (err) {
    throw new DemoClientError(
      `the demo's proxyless client needs @grpc/grpc-js-xds (a devDependency): run \`npm install\` in a checkout (${(err as Error).message})`,
    );
  }
  xds.register();
  const bootstrap = demoBootstrap(opts.xdsServer, opts.nodeId ?? "dns-eds-demo-client");
  // The documented way, and what a user would set; grpc-js-xds caches it per process though, so the
  // channel option below makes a second demo run in the same process use its own control plane.
  process.env.GRPC_XDS_BOOTSTRAP_CONFIG = bootstrap;
  const client = new EchoClient(opts.target, grpc.credentials.createInsecure(), {
    "grpc.TEST_ONLY_DO_NOT_USE_IN_PROD.xds_bootstrap_config": bootstrap,
  }) as EchoClientInstance;

  let stopped = false;
  const hello = () =>
    new Promise<HelloReply>((resolve, reject) =>
      client.hello({ from: "dns-eds demo" }, { deadline: Date.now() + 1000 }, (err, reply) =>
        err ? reject(err) : resolve(reply as HelloReply),
      ),
    );
  const pauseMs = opts.pauseMs ?? 40;
  const worker = async (): Promise<void> => {
    while (!stopped) {
      const phase = opts.stats.currentPhase;
      try {
        const reply = await hello();
        opts.stats.record(`${reply.backend.padEnd(10)} ${reply.address}`, phase);
        await sleep(pauseMs);
      } catch (err) {
        if (stopped) break;
        const code = (err as grpc.ServiceError).code;
        opts.stats.record(`error ${grpc.status[code] ?? code}`, phase);
        // Back off on errors so a client without endpoints yet does not spin.
        await sleep(Math.max(pauseMs, 200));
      }
    }
  };
  const workers = Array.from({ length: opts.concurrency ?? 2 }, () => worker());
  return {
    async stop() {
      stopped = true;
      await Promise.all(workers);
      client.close();
    },
  };
}
