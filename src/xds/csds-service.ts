/**
 * The Client Status Discovery Service (`envoy.service.status.v3.ClientStatusDiscoveryService`) on the
 * xDS port: `FetchClientStatus` answers one `ClientStatusRequest`, `StreamClientStatus` answers each
 * request on the stream, both with one `ClientConfig` per connected client that the request's
 * `node_matchers` select (client-status.ts).
 *
 * Who sees what: `access(call)` says who is asking (see XdsServerOptions.csdsAccess). Without it, or
 * when it returns `{ all: true }`, every client is visible; otherwise only the clients it accepts. A
 * refusal from `access` (a thrown error with a gRPC `code`) ends the call with that status.
 *
 * An answer costs CPU in proportion to what it reports (about 4 µs per resource entry on a loaded
 * 2-core box, bench/csds-status.mjs), so answers draw on a server-wide budget of entries per second (a
 * token bucket, default 50,000 per second and as burst; each answer counts at least 100, plus one per
 * client looked at; an answer starts only with at least 100 left): a caller over it gets
 * RESOURCE_EXHAUSTED and the xDS streams keep their CPU. An answer that starts is computed even when it
 * overdraws the budget; the next one waits for the refill.
 *
 * Resource contents (`xds_config`) are sent only when the call's metadata has
 * `dns-eds-resource-contents: include` and `exclude_resource_contents` is false (the proto's default
 * would include them, which for a fleet means megabytes per call).
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type ClientStatusRequest,
  ClientStatusRequestSchema,
  type ClientStatusResponse,
  ClientStatusResponseSchema,
} from "../gen/envoy/service/status/v3/csds_pb.js";
import { type ClientSnapshot, clientConfigs } from "./client-status.js";
import { compileNodeMatchers, MatcherError } from "./node-matcher.js";

/** A CSDS call as the access check sees it (unary or stream). */
export type CsdsCall = grpc.ServerUnaryCall<unknown, unknown> | grpc.ServerDuplexStream<unknown, unknown>;

/** What an answer costs at least, in resource entries of the budget. */
const MIN_ANSWER_COST = 100;

export const CSDS_SERVICE = "envoy.service.status.v3.ClientStatusDiscoveryService";
export const CONTENTS_METADATA_KEY = "dns-eds-resource-contents";

/** Which clients a CSDS caller may see: all of them, or those `visible` accepts. */
export type CsdsVisibility = { all: true } | { all: false; visible: (client: ClientSnapshot) => boolean };

export interface CsdsServiceOptions {
  /** The connected clients right now. */
  clients: () => ClientSnapshot[];
  /** Who is asking; throw an error with a gRPC `code` to refuse. Default: everyone sees every client. */
  access?: (call: CsdsCall) => CsdsVisibility;
  onError?: (err: unknown) => void;
  /** Resource entries per second across all callers, also the burst (default 50,000). */
  entriesPerSecond?: number;
  now?: () => number;
}

const serialize = (r: ClientStatusResponse) => Buffer.from(toBinary(ClientStatusResponseSchema, r));
const deserialize = (b: Buffer) => fromBinary(ClientStatusRequestSchema, b);

export const CSDS_DEFINITION: grpc.ServiceDefinition = {
  StreamClientStatus: {
    path: `/${CSDS_SERVICE}/StreamClientStatus`,
    requestStream: true,
    responseStream: true,
    requestSerialize: (r: ClientStatusRequest) => Buffer.from(toBinary(ClientStatusRequestSchema, r)),
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: (b: Buffer) => fromBinary(ClientStatusResponseSchema, b),
  },
  FetchClientStatus: {
    path: `/${CSDS_SERVICE}/FetchClientStatus`,
    requestStream: false,
    responseStream: false,
    requestSerialize: (r: ClientStatusRequest) => Buffer.from(toBinary(ClientStatusRequestSchema, r)),
    requestDeserialize: deserialize,
    responseSerialize: serialize,
    responseDeserialize: (b: Buffer) => fromBinary(ClientStatusResponseSchema, b),
  },
};

class CallError extends Error {
  constructor(
    readonly code: grpc.status,
    message: string,
  ) {
    super(message);
  }
}

export function csdsImplementation(opts: CsdsServiceOptions): grpc.UntypedServiceImplementation {
  const rate = opts.entriesPerSecond ?? 50_000;
  const now = opts.now ?? Date.now;
  let tokens = rate;
  let last = now();
  const refill = (): boolean => {
    const t = now();
    tokens = Math.min(rate, tokens + ((t - last) / 1000) * rate);
    last = t;
    return tokens >= MIN_ANSWER_COST;
  };
  const answer = (call: CsdsCall, req: ClientStatusRequest): ClientStatusResponse => {
    if (!refill()) {
      throw new CallError(
        grpc.status.RESOURCE_EXHAUSTED,
        `CSDS answers over ${rate} resource entries per second: retry in a moment`,
      );
    }
    let visibility: CsdsVisibility = { all: true };
    if (opts.access) {
      try {
        visibility = opts.access(call);
      } catch (e) {
        const code = (e as { code?: unknown }).code;
        throw new CallError(
          typeof code === "number" ? code : grpc.status.PERMISSION_DENIED,
          (e as Error).message,
        );
      }
    }
    let matches: ReturnType<typeof compileNodeMatchers>;
    try {
      matches = compileNodeMatchers(req.nodeMatchers);
    } catch (e) {
      if (e instanceof MatcherError) throw new CallError(grpc.status.INVALID_ARGUMENT, e.message);
      throw e;
    }
    const asked = call.metadata
      .get(CONTENTS_METADATA_KEY)
      .some((v: string | Buffer) => String(v) === "include");
    const includeContents = asked && !req.excludeResourceContents;
    let clients = opts.clients();
    if (!visibility.all) clients = clients.filter(visibility.visible);
    const config = clientConfigs(clients, { matches, includeContents });
    let entries = clients.length;
    for (const c of config) entries += c.genericXdsConfigs.length;
    tokens -= Math.max(MIN_ANSWER_COST, entries);
    return create(ClientStatusResponseSchema, { config });
  };

  const fail = (e: unknown): grpc.ServiceError => {
    if (e instanceof CallError)
      return Object.assign(new Error(e.message), {
        code: e.code,
        details: e.message,
        metadata: new grpc.Metadata(),
      });
    opts.onError?.(e);
    const msg = (e as Error)?.message ?? String(e);
    return Object.assign(new Error(msg), {
      code: grpc.status.INTERNAL,
      details: msg,
      metadata: new grpc.Metadata(),
    });
  };

  return {
    FetchClientStatus: ((
      call: grpc.ServerUnaryCall<ClientStatusRequest, ClientStatusResponse>,
      callback: grpc.sendUnaryData<ClientStatusResponse>,
    ) => {
      try {
        callback(null, answer(call, call.request));
      } catch (e) {
        callback(fail(e));
      }
    }) as grpc.handleUnaryCall<ClientStatusRequest, ClientStatusResponse>,
    StreamClientStatus: ((call: grpc.ServerDuplexStream<ClientStatusRequest, ClientStatusResponse>) => {
      call.on("data", (req: ClientStatusRequest) => {
        try {
          call.write(answer(call, req));
        } catch (e) {
          const err = fail(e);
          call.emit("error", { code: err.code, details: err.details });
        }
      });
      call.on("end", () => call.end());
      call.on("error", () => {});
    }) as grpc.handleBidiStreamingCall<ClientStatusRequest, ClientStatusResponse>,
  };
}
