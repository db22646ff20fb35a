/**
 * One resource version encoded once, in the exact byte forms the two protocol variants splice into
 * responses: SotW `DiscoveryResponse.resources` (an Any) and Delta `DeltaDiscoveryResponse.resources`
 * (a Resource wrapping the same Any). Both live in one buffer: the Any field is the tail of the Resource
 * field, so the SotW bytes are a view, not a copy.
 *
 * The version is a content hash of the resource bytes, so every replica and every process computes the
 * same version for the same content (Delta `initial_resource_versions` then work across replicas).
 */
import { createHash } from "node:crypto";
import { type DescMessage, type Message, toBinary } from "@bufbuild/protobuf";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignmentSchema,
} from "../gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { encodeClusterLoadAssignment } from "./cla-encoder.js";
import { TYPE_URLS } from "./type-urls.js";
import { lenPrefix, stringField } from "./wire.js";

export interface EncodedResource {
  readonly typeUrl: string;
  readonly name: string;
  /** sha256 of `bytes`, first 16 hex digits. */
  readonly version: string;
  readonly message: Message;
  /** The resource message itself. */
  readonly bytes: Uint8Array;
  /** `DiscoveryResponse.resources` field (tag 2): a google.protobuf.Any. */
  readonly sotwField: Uint8Array;
  /** `DeltaDiscoveryResponse.resources` field (tag 2): an envoy.service.discovery.v3.Resource. */
  readonly deltaField: Uint8Array;
}

// Field numbers from google/protobuf/any.proto and envoy/service/discovery/v3/discovery.proto.
const ANY_TYPE_URL = 1;
const ANY_VALUE = 2;
const RESOURCE_VERSION = 1;
const RESOURCE_RESOURCE = 2;
const RESOURCE_NAME = 3;
const RESPONSE_RESOURCES = 2;

export function contentVersion(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex").slice(0, 16);
}

/** The resource's own bytes: the specialised CLA encoder when it takes the message, else toBinary. */
function encodeMessage(typeUrl: string, schema: DescMessage, message: Message): Uint8Array {
  if (typeUrl === TYPE_URLS.endpoint && schema.typeName === ClusterLoadAssignmentSchema.typeName) {
    const fast = encodeClusterLoadAssignment(message as ClusterLoadAssignment);
    if (fast !== undefined) return fast;
  }
  return toBinary(schema, message);
}

/**
 * Encodings made ahead of a publish, by message object: a producer that needs a resource's version
 * before publishing it (the endpoints stage skips unchanged assignments by version) encodes it here,
 * and the store takes that encoding instead of encoding the same message a second time.
 */
const ahead = new WeakMap<Message, { bytes: Uint8Array; version: string }>();

/**
 * The content version of `message` as the store will compute it, encoding it once: the store's
 * `encodeResource` of the same message object reuses these bytes. The message must not change after
 * this call (messages handed to the store are never changed anyway).
 */
export function versionAhead(typeUrl: string, schema: DescMessage, message: Message): string {
  let e = ahead.get(message);
  if (!e) {
    const bytes = encodeMessage(typeUrl, schema, message);
    e = { bytes, version: contentVersion(bytes) };
    ahead.set(message, e);
  }
  return e.version;
}

export function encodeResource(
  typeUrl: string,
  name: string,
  schema: DescMessage,
  message: Message,
): EncodedResource {
  const pre = ahead.get(message);
  // Taken, not kept here: the stored buffer below holds a copy. (A CLA's standalone bytes stay alive while
  // its endpoints point into them, as the place the next encode copies them from: cla-encoder.ts.)
  if (pre) ahead.delete(message);
  const bytes = pre?.bytes ?? encodeMessage(typeUrl, schema, message);
  const version = pre?.version ?? contentVersion(bytes);
  // Any { type_url, value }
  const anyHead = stringField(ANY_TYPE_URL, typeUrl);
  const valuePrefix = lenPrefix(ANY_VALUE, bytes.length);
  const anyLen = anyHead.length + valuePrefix.length + bytes.length;
  // Resource { version, name, resource: Any } — Any last so its field is the buffer's tail.
  const versionField = stringField(RESOURCE_VERSION, version);
  const nameField = stringField(RESOURCE_NAME, name);
  const anyFieldPrefix = lenPrefix(RESOURCE_RESOURCE, anyLen);
  const resourceLen = versionField.length + nameField.length + anyFieldPrefix.length + anyLen;
  const outerPrefix = lenPrefix(RESPONSE_RESOURCES, resourceLen);
  // RESOURCE_RESOURCE and RESPONSE_RESOURCES are both field 2, so the Resource's Any field prefix is
  // byte-identical to a DiscoveryResponse.resources prefix of the same length.
  const buf = Buffer.allocUnsafe(outerPrefix.length + resourceLen);
  let pos = 0;
  for (const part of [outerPrefix, versionField, nameField, anyFieldPrefix, anyHead, valuePrefix, bytes]) {
    buf.set(part, pos);
    pos += part.length;
  }
  const sotwStart = outerPrefix.length + versionField.length + nameField.length;
  return {
    typeUrl,
    name,
    version,
    message,
    // Views of the one buffer, not of the standalone encoding.
    bytes: buf.subarray(buf.length - bytes.length),
    sotwField: buf.subarray(sotwStart),
    deltaField: buf,
  };
}
