// Shared plumbing for the xDS benchmarks (not a benchmark itself): machine info, the load-client child
// process, the bare grpc-js "floor" and "re-encode per stream" servers, CLA generation and percentiles.
import { fork } from "node:child_process";
import { cpus, totalmem } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { create, toBinary } from "@bufbuild/protobuf";
import { anyPack } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";

const here = dirname(fileURLToPath(import.meta.url));
const dist = join(here, "..", "dist");

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  console.log("xds-harness: helper of the xds benchmarks; nothing to do when run alone");
  process.exit(0);
}

export const xds = await import(join(dist, "xds", "index.js"));
const { ClusterLoadAssignmentSchema } = await import(
  join(dist, "gen/envoy/config/endpoint/v3/endpoint_pb.js")
);
const { DiscoveryResponseSchema } = await import(
  join(dist, "gen/envoy/service/discovery/v3/discovery_pb.js")
);

export const now = () => performance.timeOrigin + performance.now();

export function machine() {
  const c = cpus();
  return {
    cpu: c[0]?.model ?? "unknown",
    cores: c.length,
    memGiB: Math.round(totalmem() / 2 ** 30),
    node: process.version,
  };
}

export function arg(name, def) {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? Number(process.argv[i + 1]) : def;
}

export function pct(xs, p) {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] ?? Number.NaN;
}

/** A CLA of `n` IPv4 endpoints; `round` changes every port so each round is new content. */
export function makeCla(name, n, round) {
  return xds.clusterLoadAssignment(name, [
    {
      region: "r",
      zone: "z",
      endpoints: Array.from({ length: n }, (_, i) => ({
        address: `127.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`,
        port: 1024 + ((round * 7 + i) % 60000),
      })),
    },
  ]);
}

export class LoadClient {
  constructor() {
    this.child = fork(join(here, "xds-load-client.mjs"), [], {
      stdio: ["ignore", "inherit", "inherit", "ipc"],
    });
    this.waiters = new Map();
    this.child.on("message", (m) => {
      if (m.reached !== undefined) {
        const w = this.waiters.get(m.reached);
        this.reachedAt = this.reachedAt ?? new Map();
        this.reachedAt.set(m.reached, m.at);
        if (w) w(m.at);
      }
    });
  }
  open(opts) {
    this.child.send({ cmd: "open", ...opts });
  }
  /** Resolves with the time every stream had received its k-th response. */
  reached(k, timeoutMs = 120_000) {
    const got = this.reachedAt?.get(k);
    if (got !== undefined) return Promise.resolve(got);
    return new Promise((resolve, reject) => {
      const t = setTimeout(
        () => reject(new Error(`timeout waiting for response #${k} on every stream`)),
        timeoutMs,
      );
      this.waiters.set(k, (at) => {
        clearTimeout(t);
        resolve(at);
      });
    });
  }
  pause() {
    this.child.send({ cmd: "pause" });
  }
  async close() {
    const exited = new Promise((r) => this.child.once("exit", r));
    this.child.send({ cmd: "close" });
    const t = setTimeout(() => this.child.kill("SIGKILL"), 10_000);
    await exited;
    clearTimeout(t);
  }
}

const ADS_SOTW = "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources";
const TYPE_EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

/**
 * Bare grpc-js ADS server that writes whatever `respond(i)` returns to every stream on `push()`.
 * mode "floor": the same pre-encoded bytes to all; mode "reencode": a fresh DiscoveryResponse per stream.
 */
export async function bareServer(mode, claRef) {
  const server = new grpc.Server({ "grpc.max_send_message_length": 64 * 1024 * 1024 });
  const calls = [];
  let nonce = 0;
  let floorBytes;
  const encodeFor = () => {
    nonce++;
    return Buffer.from(
      toBinary(
        DiscoveryResponseSchema,
        create(DiscoveryResponseSchema, {
          versionInfo: String(nonce),
          typeUrl: TYPE_EDS,
          nonce: String(nonce),
          resources: [anyPack(ClusterLoadAssignmentSchema, claRef.current)],
        }),
      ),
    );
  };
  const bytes = () => (mode === "floor" ? floorBytes : encodeFor());
  const def = {
    S: {
      path: ADS_SOTW,
      requestStream: true,
      responseStream: true,
      requestSerialize: (b) => b,
      requestDeserialize: (b) => b,
      responseSerialize: (b) => b,
      responseDeserialize: (b) => b,
    },
  };
  server.addService(def, {
    S: (call) => {
      let first = true;
      call.on("data", () => {
        if (!first) return;
        first = false;
        calls.push(call);
        call.write(bytes());
      });
      call.on("error", () => {});
    },
  });
  const port = await new Promise((res, rej) =>
    server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
  );
  return {
    port,
    prepare() {
      floorBytes = encodeFor();
    },
    push() {
      if (mode === "floor") floorBytes = encodeFor();
      for (const c of calls) c.write(bytes());
    },
    close: () => server.forceShutdown(),
  };
}
