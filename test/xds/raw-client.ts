/**
 * A raw xDS client for protocol tests: real grpc-js over loopback, requests and responses as the
 * generated protobuf-es messages, and a queue of responses the test pulls from with a bounded wait.
 */
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import * as grpc from "@grpc/grpc-js";
import { ClusterSchema } from "../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import { ClusterLoadAssignmentSchema } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { ListenerSchema } from "../../src/gen/envoy/config/listener/v3/listener_pb.js";
import { RouteConfigurationSchema } from "../../src/gen/envoy/config/route/v3/route_pb.js";
import {
  type DeltaDiscoveryRequest,
  DeltaDiscoveryRequestSchema,
  type DeltaDiscoveryResponse,
  DeltaDiscoveryResponseSchema,
  type DiscoveryRequest,
  DiscoveryRequestSchema,
  type DiscoveryResponse,
  DiscoveryResponseSchema,
} from "../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";

const SCHEMAS = {
  [TYPE_URLS.cluster]: ClusterSchema,
  [TYPE_URLS.endpoint]: ClusterLoadAssignmentSchema,
  [TYPE_URLS.listener]: ListenerSchema,
  [TYPE_URLS.route]: RouteConfigurationSchema,
} as const;

type Kind = "sotw" | "delta";

export interface RawClientOptions {
  /** Default: insecure. */
  credentials?: grpc.ChannelCredentials;
  /** e.g. `grpc.use_local_subchannel_pool: 1` for a connection of its own (grpc-js shares them by default). */
  channelOptions?: grpc.ChannelOptions;
  /** Default 127.0.0.1. */
  host?: string;
}
type Req<K extends Kind> = K extends "sotw" ? DiscoveryRequest : DeltaDiscoveryRequest;
type Res<K extends Kind> = K extends "sotw" ? DiscoveryResponse : DeltaDiscoveryResponse;

export class RawXdsClient<K extends Kind> {
  readonly responses: Res<K>[] = [];
  private waiters: Array<() => void> = [];
  private readonly client: grpc.Client;
  readonly call: grpc.ClientDuplexStream<Req<K>, Res<K>>;
  ended: grpc.StatusObject | undefined;

  constructor(
    readonly kind: K,
    port: number,
    path = kind === "sotw"
      ? "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources"
      : "/envoy.service.discovery.v3.AggregatedDiscoveryService/DeltaAggregatedResources",
    opts: RawClientOptions = {},
  ) {
    this.client = new grpc.Client(
      `${opts.host ?? "127.0.0.1"}:${port}`,
      opts.credentials ?? grpc.credentials.createInsecure(),
      opts.channelOptions ?? {},
    );
    const reqSchema = kind === "sotw" ? DiscoveryRequestSchema : DeltaDiscoveryRequestSchema;
    const resSchema = kind === "sotw" ? DiscoveryResponseSchema : DeltaDiscoveryResponseSchema;
    this.call = this.client.makeBidiStreamRequest(
      path,
      (r: Req<K>) => Buffer.from(toBinary(reqSchema, r as never)),
      (b: Buffer) => fromBinary(resSchema, b) as Res<K>,
    );
    this.call.on("data", (r: Res<K>) => {
      this.responses.push(r);
      this.wake();
    });
    this.call.on("status", (s) => {
      this.ended = s;
      this.wake();
    });
    this.call.on("error", () => {});
  }

  send(
    init: K extends "sotw"
      ? MessageInitShape<typeof DiscoveryRequestSchema>
      : MessageInitShape<typeof DeltaDiscoveryRequestSchema>,
  ): void {
    const schema = this.kind === "sotw" ? DiscoveryRequestSchema : DeltaDiscoveryRequestSchema;
    this.call.write(create(schema as never, init as never) as Req<K>);
  }

  /** Next response, waiting at most `ms`. */
  async next(ms = 5_000): Promise<Res<K>> {
    const deadline = Date.now() + ms;
    while (this.responses.length === 0) {
      if (this.ended) throw new Error(`stream ended: ${this.ended.code} ${this.ended.details}`);
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("no xDS response in time");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.responses.shift() as Res<K>;
  }

  /** Waits for the stream's final status. */
  async status(ms = 5_000): Promise<grpc.StatusObject> {
    const deadline = Date.now() + ms;
    while (!this.ended) {
      const left = deadline - Date.now();
      if (left <= 0) throw new Error("stream did not end in time");
      await new Promise<void>((resolve) => {
        const t = setTimeout(resolve, left);
        this.waiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    }
    return this.ended;
  }

  close(): void {
    this.call.cancel();
    this.client.close();
  }

  private wake(): void {
    const w = this.waiters;
    this.waiters = [];
    for (const f of w) f();
  }
}

/** Names and decoded resources of a SotW response. */
export function sotwResources(r: DiscoveryResponse): Array<{ name: string; message: unknown }> {
  return r.resources.map((any) => {
    const schema = SCHEMAS[any.typeUrl as keyof typeof SCHEMAS];
    const msg = anyUnpack(any, schema) as { name?: string; clusterName?: string } | undefined;
    return { name: msg?.name ?? msg?.clusterName ?? "", message: msg };
  });
}

export function sotwNames(r: DiscoveryResponse): string[] {
  return sotwResources(r)
    .map((x) => x.name)
    .sort();
}
