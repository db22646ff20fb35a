/**
 * A CSDS client for `dns-eds status`: one `FetchClientStatus` call to one replica, with optional TLS
 * (and a client certificate, for an operator identity), a deadline, and the metadata that asks for
 * resource contents. Errors carry a stable `code` and name the replica.
 */
import { create, fromBinary, type MessageInitShape, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import {
  type ClientStatusRequest,
  ClientStatusRequestSchema,
  type ClientStatusResponse,
  ClientStatusResponseSchema,
} from "../gen/envoy/service/status/v3/csds_pb.js";
import { CONTENTS_METADATA_KEY, CSDS_SERVICE } from "../xds/csds-service.js";

export interface CsdsTls {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
}

export interface FetchOptions {
  request?: MessageInitShape<typeof ClientStatusRequestSchema>;
  /** Ask for `xds_config` of each resource. */
  contents?: boolean;
  tls?: CsdsTls;
  timeoutMs?: number;
}

export class CsdsClientError extends Error {
  readonly code = "ERR_CSDS_FETCH";
  constructor(
    readonly replica: string,
    message: string,
    readonly grpcCode?: number,
  ) {
    super(`${replica}: ${message}`);
    this.name = "CsdsClientError";
  }
}

export async function fetchClientStatus(
  address: string,
  opts: FetchOptions = {},
): Promise<ClientStatusResponse> {
  const creds = opts.tls
    ? grpc.credentials.createSsl(opts.tls.ca ?? null, opts.tls.key ?? null, opts.tls.cert ?? null)
    : grpc.credentials.createInsecure();
  const client = new grpc.Client(address, creds);
  const md = new grpc.Metadata();
  if (opts.contents) md.set(CONTENTS_METADATA_KEY, "include");
  try {
    return await new Promise<ClientStatusResponse>((resolve, reject) => {
      client.makeUnaryRequest(
        `/${CSDS_SERVICE}/FetchClientStatus`,
        (r: ClientStatusRequest) => Buffer.from(toBinary(ClientStatusRequestSchema, r)),
        (b: Buffer) => fromBinary(ClientStatusResponseSchema, b),
        create(ClientStatusRequestSchema, opts.request ?? {}),
        md,
        { deadline: Date.now() + (opts.timeoutMs ?? 5_000) },
        (err, res) => {
          if (err)
            reject(
              new CsdsClientError(address, `${grpc.status[err.code] ?? err.code}: ${err.details}`, err.code),
            );
          else if (!res) reject(new CsdsClientError(address, "empty response"));
          else resolve(res);
        },
      );
    });
  } finally {
    client.close();
  }
}
