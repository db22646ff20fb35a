/**
 * Demo gRPC backends: a tiny `demo.Echo/Hello` service that answers with the backend's name and the
 * address it was reached on, plus grpc.health.v1 so dns-eds' gRPC health checks have something real to
 * probe. The service definition is hand-rolled with JSON serializers so the demo needs no .proto file.
 */

import { isIPv6 } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";

export interface HelloRequest {
  from?: string;
}

export interface HelloReply {
  /** Backend name, e.g. "backend-1". */
  backend: string;
  /** `host:port` the call arrived on (IPv6 in brackets), so a client sees which endpoint served it. */
  address: string;
}

const json = <T>() => ({
  serialize: (value: T): Buffer => Buffer.from(JSON.stringify(value)),
  deserialize: (bytes: Buffer): T => JSON.parse(bytes.toString("utf8")) as T,
});

/** `/demo.Echo/Hello`, unary, JSON bodies. */
export const echoService = {
  hello: {
    path: "/demo.Echo/Hello",
    requestStream: false,
    responseStream: false,
    requestSerialize: json<HelloRequest>().serialize,
    requestDeserialize: json<HelloRequest>().deserialize,
    responseSerialize: json<HelloReply>().serialize,
    responseDeserialize: json<HelloReply>().deserialize,
  },
} satisfies grpc.ServiceDefinition;

/** Client class for the echo service; dial it with any target, including `xds:///NAME`. */
export const EchoClient = grpc.makeGenericClientConstructor(echoService, "demo.Echo");
export type EchoClientInstance = InstanceType<typeof EchoClient> & {
  hello(
    req: HelloRequest,
    options: grpc.CallOptions,
    cb: (err: grpc.ServiceError | null, reply?: HelloReply) => void,
  ): grpc.ClientUnaryCall;
};

export class BackendError extends Error {
  constructor(
    message: string,
    readonly code: "ERR_BACKEND_BIND" | "ERR_BACKEND_OPTIONS",
  ) {
    super(message);
    this.name = "BackendError";
  }
}

export interface BackendSpec {
  name: string;
  /** Addresses to listen on with the same port, e.g. ["127.0.0.1", "::1"]. */
  hosts: string[];
}

export interface DemoBackend {
  readonly name: string;
  readonly hosts: readonly string[];
  readonly port: number;
  /** Calls served since start, per listen address (`host:port`). */
  readonly calls: ReadonlyMap<string, number>;
  /** Flips grpc.health.v1 status for the whole server ("") and the echo service. */
  setServing(serving: boolean): void;
  /** Stops accepting calls (connections refused) until `start()`; health answers stop with it. */
  stop(): Promise<void>;
  start(): Promise<void>;
  readonly running: boolean;
}

const hostPort = (host: string, port: number): string =>
  isIPv6(host) ? `[${host}]:${port}` : `${host}:${port}`;

interface Listening {
  server: grpc.Server;
}

async function listen(
  name: string,
  hosts: readonly string[],
  port: number,
  health: HealthImplementation,
  calls: Map<string, number>,
): Promise<Listening> {
  const server = new grpc.Server();
  health.addToServer(server);
  // One server per listen address would lose nothing, but the reply must name the address the call
  // came in on; grpc-js does not expose the local address, so each host gets its own handler.
  server.addService(echoService, {
    hello: (call: grpc.ServerUnaryCall<HelloRequest, HelloReply>, cb: grpc.sendUnaryData<HelloReply>) => {
      const local = localAddressOf(call, hosts, port);
      calls.set(local, (calls.get(local) ?? 0) + 1);
      cb(null, { backend: name, address: local });
    },
  });
  try {
    for (const host of hosts) {
      await new Promise<void>((resolve, reject) =>
        server.bindAsync(hostPort(host, port), grpc.ServerCredentials.createInsecure(), (err) =>
          err ? reject(err) : resolve(),
        ),
      );
    }
  } catch (err) {
    server.forceShutdown();
    throw err;
  }
  return { server };
}

/** The peer's family tells which of our listen addresses served it (one address per family here). */
function localAddressOf(
  call: grpc.ServerUnaryCall<unknown, unknown>,
  hosts: readonly string[],
  port: number,
): string {
  // grpc-js formats the peer as `host:port`; only an IPv6 host has more than one colon.
  const peer = call.getPeer();
  const v6 = peer.indexOf(":") !== peer.lastIndexOf(":");
  const host = hosts.find((h) => isIPv6(h) === v6) ?? (hosts[0] as string);
  return hostPort(host, port);
}

/** Starts one backend on `port` on every host in `spec.hosts`. */
export async function startBackend(spec: BackendSpec, port: number): Promise<DemoBackend> {
  if (spec.hosts.length === 0)
    throw new BackendError("a backend needs at least one host", "ERR_BACKEND_OPTIONS");
  const v4 = spec.hosts.filter((h) => !isIPv6(h));
  const v6 = spec.hosts.filter((h) => isIPv6(h));
  if (v4.length > 1 || v6.length > 1)
    throw new BackendError(
      "a backend listens on at most one IPv4 and one IPv6 address",
      "ERR_BACKEND_OPTIONS",
    );
  const health = new HealthImplementation({ "": "SERVING", "demo.Echo": "SERVING" });
  const calls = new Map<string, number>();
  let current: Listening | null = await listen(spec.name, spec.hosts, port, health, calls).catch((err) => {
    throw new BackendError(
      `${spec.name}: cannot listen on port ${port}: ${(err as Error).message}`,
      "ERR_BACKEND_BIND",
    );
  });
  return {
    name: spec.name,
    hosts: spec.hosts,
    port,
    calls,
    get running() {
      return current !== null;
    },
    setServing(serving: boolean) {
      const status = serving ? "SERVING" : "NOT_SERVING";
      health.setStatus("", status);
      health.setStatus("demo.Echo", status);
    },
    async stop() {
      const s = current;
      current = null;
      if (!s) return;
      // forceShutdown: the demo wants the failure to be visible now, not after calls drain.
      s.server.forceShutdown();
    },
    async start() {
      if (current) return;
      current = await listen(spec.name, spec.hosts, port, health, calls);
    },
  };
}

/**
 * Starts several backends on one shared port (DNS A records carry no port, so every address of a
 * name must serve on the same one). Tries random high ports, bounded, until all hosts bind.
 */
export async function startBackends(
  specs: readonly BackendSpec[],
  options: { port?: number; attempts?: number; random?: () => number } = {},
): Promise<{ port: number; backends: DemoBackend[] }> {
  const attempts = options.port ? 1 : (options.attempts ?? 20);
  const random = options.random ?? Math.random;
  let lastError: unknown;
  for (let i = 0; i < attempts; i++) {
    const port = options.port ?? 20000 + Math.floor(random() * 40000);
    const started: DemoBackend[] = [];
    try {
      for (const spec of specs) started.push(await startBackend(spec, port));
      return { port, backends: started };
    } catch (err) {
      lastError = err;
      for (const b of started) await b.stop();
    }
  }
  throw new BackendError(
    `cannot start the demo backends: ${(lastError as Error)?.message ?? lastError}`,
    "ERR_BACKEND_BIND",
  );
}
