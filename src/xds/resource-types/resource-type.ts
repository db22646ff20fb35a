/**
 * The contract each xDS resource kind implements for the store: which schema encodes it, what a real
 * client (Envoy or proxyless gRPC) would NACK, and which other resources it needs to exist.
 */
import type { DescMessage, Message } from "@bufbuild/protobuf";
import type { XdsTypeUrl } from "../type-urls.js";

export interface ResourceRef {
  typeUrl: XdsTypeUrl;
  name: string;
}

export interface ResourceType {
  readonly typeUrl: XdsTypeUrl;
  readonly schema: DescMessage;
  /** Throws `XdsError` ERR_XDS_INVALID_RESOURCE naming the resource, the field and the reason. */
  validate(name: string, resource: Message): void;
  /** Resources that must exist in the same store for this one to be usable (Cluster → CLA, Listener → RDS). */
  references(name: string, resource: Message): ResourceRef[];
}
