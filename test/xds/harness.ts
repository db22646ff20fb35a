/**
 * Shared set-up for xDS protocol tests: a store + real server on loopback, resource publishing helpers,
 * and "barriers" — a request that must produce a known response, so a test can assert that nothing else
 * was sent before it without sleeping.
 */
import { create } from "@bufbuild/protobuf";
import { NodeSchema } from "../../src/gen/envoy/config/core/v3/base_pb.js";
import type {
  DeltaDiscoveryResponse,
  DiscoveryResponse,
} from "../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import type { XdsMetrics } from "../../src/xds/metrics.js";
import { clusterLoadAssignment, edsCluster, routeToCluster } from "../../src/xds/resource-builders.js";
import { ResourceStore, type ResourceStoreOptions } from "../../src/xds/resource-store.js";
import { createXdsServer, type XdsServer, type XdsServerOptions } from "../../src/xds/server.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";
import { type RawXdsClient, sotwNames } from "./raw-client.js";

export const T = TYPE_URLS;

export class RecordingMetrics implements XdsMetrics {
  opened = 0;
  closed = 0;
  pushes: Array<{ typeUrl: string; bytes: number }> = [];
  nacks: Array<{ typeUrl: string; detail: string }> = [];
  /** Hits per xds.limits key. */
  limits: Record<string, number> = {};
  /** Authorization refusals per reason. */
  denials: Record<string, number> = {};
  streamOpened(): void {
    this.opened++;
  }
  streamClosed(): void {
    this.closed++;
  }
  pushed(typeUrl: string, bytes: number): void {
    this.pushes.push({ typeUrl, bytes });
  }
  nacked(typeUrl: string, detail: string): void {
    this.nacks.push({ typeUrl, detail });
  }
  limitExceeded(limit: string): void {
    this.limits[limit] = (this.limits[limit] ?? 0) + 1;
  }
  denied(reason: string): void {
    this.denials[reason] = (this.denials[reason] ?? 0) + 1;
  }
}

export async function startServer(
  opts: Partial<XdsServerOptions> = {},
  storeOpts: ResourceStoreOptions = {},
): Promise<{ store: ResourceStore; server: XdsServer; port: number; metrics: RecordingMetrics }> {
  const store = opts.store ?? new ResourceStore(storeOpts);
  const metrics = new RecordingMetrics();
  const server = createXdsServer({ metrics, ...opts, store });
  const port = await server.listen("127.0.0.1:0");
  return { store, server, port, metrics };
}

export function node(id: string, zone = "") {
  return create(NodeSchema, {
    id,
    locality: { region: "r1", zone, subZone: "" },
    clientFeatures: ["envoy.lb.does_not_support_overprovisioning"],
  });
}

let seq = 0;
/** Publishes a CLA named `name` with the given IPv4 hosts on port 8080. */
export function putCla(store: ResourceStore, name: string, ...hosts: string[]): string {
  store.publish({
    upsert: [
      {
        typeUrl: T.endpoint,
        name,
        resource: clusterLoadAssignment(name, [
          { zone: "z1", endpoints: hosts.map((address) => ({ address, port: 8080 })) },
        ]),
      },
    ],
  });
  return store.get(T.endpoint, name)?.version ?? "";
}

export function putCluster(store: ResourceStore, name: string, connectTimeoutMs = 1000): void {
  if (!store.get(T.endpoint, name)) putCla(store, name, "10.9.9.9");
  store.publish({ upsert: [{ typeUrl: T.cluster, name, resource: edsCluster(name, { connectTimeoutMs }) }] });
}

/** SotW barrier on RDS: each call subscribes one more fresh route name and waits for exactly it. */
export class SotwBarrier {
  private names: string[] = [];
  private nonce = "";
  private version = "";
  constructor(
    private readonly store: ResourceStore,
    private readonly client: RawXdsClient<"sotw">,
  ) {}
  /** Resolves with every response that came before the barrier's own. */
  async pass(): Promise<DiscoveryResponse[]> {
    const name = `barrier-${++seq}`;
    this.store.publish({ upsert: [{ typeUrl: T.route, name, resource: routeToCluster(name, "x") }] });
    this.names.push(name);
    this.client.send({
      typeUrl: T.route,
      resourceNames: this.names,
      responseNonce: this.nonce,
      versionInfo: this.version,
    });
    const before: DiscoveryResponse[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await this.client.next();
      if (r.typeUrl === T.route && sotwNames(r).includes(name)) {
        this.nonce = r.nonce;
        this.version = r.versionInfo;
        return before;
      }
      before.push(r);
    }
    throw new Error("barrier not reached");
  }
}

export class DeltaBarrier {
  constructor(
    private readonly store: ResourceStore,
    private readonly client: RawXdsClient<"delta">,
  ) {}
  async pass(): Promise<DeltaDiscoveryResponse[]> {
    const name = `barrier-${++seq}`;
    this.store.publish({ upsert: [{ typeUrl: T.route, name, resource: routeToCluster(name, "x") }] });
    this.client.send({ typeUrl: T.route, resourceNamesSubscribe: [name] });
    const before: DeltaDiscoveryResponse[] = [];
    for (let i = 0; i < 20; i++) {
      const r = await this.client.next();
      if (r.typeUrl === T.route && r.resources.some((x) => x.name === name)) return before;
      before.push(r);
    }
    throw new Error("barrier not reached");
  }
}
