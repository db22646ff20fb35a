/**
 * Assembles DiscoveryResponse / DeltaDiscoveryResponse wire bytes by concatenating the pre-encoded
 * resource fields from the store with a few freshly written header fields. Nothing is re-encoded per
 * stream; the cost per response is one allocation and a memcpy of the resource bytes, into a buffer that
 * already holds the gRPC frame header, so streams write it without another copy (framed-writes.ts).
 */
import type { EncodedResource } from "./encoded-resource.js";
import { allocFramed } from "./framed-writes.js";
import { stringField } from "./wire.js";

// envoy/service/discovery/v3/discovery.proto field numbers.
const SOTW_VERSION_INFO = 1;
const SOTW_TYPE_URL = 4;
const SOTW_NONCE = 5;
const DELTA_SYSTEM_VERSION_INFO = 1;
const DELTA_TYPE_URL = 4;
const DELTA_NONCE = 5;
const DELTA_REMOVED_RESOURCES = 6;

export function encodeSotwResponse(r: {
  versionInfo: string;
  typeUrl: string;
  nonce: string;
  resources: readonly EncodedResource[];
}): Buffer {
  const parts: Uint8Array[] = [stringField(SOTW_VERSION_INFO, r.versionInfo)];
  for (const e of r.resources) parts.push(e.sotwField);
  parts.push(stringField(SOTW_TYPE_URL, r.typeUrl), stringField(SOTW_NONCE, r.nonce));
  return join(parts);
}

export function encodeDeltaResponse(r: {
  systemVersionInfo?: string;
  typeUrl: string;
  nonce: string;
  resources: readonly EncodedResource[];
  removed: readonly string[];
}): Buffer {
  const parts: Uint8Array[] = [stringField(DELTA_SYSTEM_VERSION_INFO, r.systemVersionInfo ?? "")];
  for (const e of r.resources) parts.push(e.deltaField);
  parts.push(stringField(DELTA_TYPE_URL, r.typeUrl), stringField(DELTA_NONCE, r.nonce));
  // removed_resources entries may be empty strings in theory; stringField would drop them, so write raw.
  for (const name of r.removed) parts.push(stringField(DELTA_REMOVED_RESOURCES, name));
  return join(parts);
}

/** The parts back to back in one framed buffer. */
function join(parts: readonly Uint8Array[]): Buffer {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = allocFramed(length);
  let pos = 0;
  for (const p of parts) {
    out.set(p, pos);
    pos += p.length;
  }
  return out;
}
