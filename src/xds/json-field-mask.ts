/**
 * A protobuf FieldMask applied to the proto-JSON (field names as in the .proto) of a message, the way
 * Envoy's admin applies `?mask=` to its config dump: paths name fields with dots, may enter singular
 * message fields and `google.protobuf.Any` (by its `@type`), never a repeated or map field before the
 * last segment, and a path that names no field of the message makes the mask invalid for it. An Any
 * kept by the mask keeps its `@type`, so the result still decodes as the same message type.
 */
import type { DescField, DescMessage, Registry } from "@bufbuild/protobuf";

type Json = Record<string, unknown>;

const ANY = "google.protobuf.Any";

/** Comma-separated paths, each a dot-separated list of proto field names; empty paths are refused. */
export function parseFieldMask(mask: string): string[][] | undefined {
  const paths = mask.split(",").map((p) => p.trim());
  if (paths.some((p) => p === "" || p.split(".").some((s) => s === ""))) return undefined;
  return paths.map((p) => p.split("."));
}

/**
 * The parts of `json` (an instance of `desc` in proto-JSON) that `paths` select, or undefined when a
 * path does not name a field of the message (or crosses a repeated field, or an Any of unknown type).
 */
export function applyFieldMask(
  json: Json,
  desc: DescMessage,
  paths: readonly (readonly string[])[],
  registry: Registry,
): Json | undefined {
  const out: Json = {};
  for (const path of paths) {
    if (!copyPath(json, desc, path, out, registry)) return undefined;
  }
  return out;
}

function fieldByProtoName(desc: DescMessage, name: string): DescField | undefined {
  return desc.fields.find((f) => f.name === name);
}

/** Copies `path` from `src` into `dst`; false when the path is not valid for `desc`. */
function copyPath(
  src: Json,
  desc: DescMessage,
  path: readonly string[],
  dst: Json,
  registry: Registry,
): boolean {
  let srcAt: Json = src;
  let dstAt: Json = dst;
  let descAt: DescMessage = desc;
  for (let i = 0; i < path.length; i++) {
    if (descAt.typeName === ANY) {
      // An Any in proto-JSON is its message's fields plus "@type": continue inside that message.
      const typeUrl = srcAt["@type"];
      if (typeof typeUrl !== "string") return true; // an absent Any: nothing to copy, path still valid
      const inner = registry.getMessage(typeUrl.slice(typeUrl.lastIndexOf("/") + 1));
      if (!inner) return false;
      dstAt["@type"] = typeUrl;
      descAt = inner;
    }
    const seg = path[i] as string;
    const field = fieldByProtoName(descAt, seg);
    if (!field) return false;
    const last = i === path.length - 1;
    const value = srcAt[seg];
    if (last) {
      if (value !== undefined) dstAt[seg] = value;
      return true;
    }
    if (field.fieldKind !== "message") return false; // repeated, map, scalar and enum stop here
    const next = field.message;
    if (value === undefined || value === null || typeof value !== "object") {
      // Nothing set there; the rest of the path must still name fields (unless it enters an Any).
      return next.typeName === ANY || validRest(next, path.slice(i + 1));
    }
    let child = dstAt[seg] as Json | undefined;
    if (child === undefined) {
      child = {};
      dstAt[seg] = child;
    }
    srcAt = value as Json;
    dstAt = child;
    descAt = next;
  }
  return true;
}

function validRest(desc: DescMessage, rest: readonly string[]): boolean {
  let d = desc;
  for (let i = 0; i < rest.length; i++) {
    const f = fieldByProtoName(d, rest[i] as string);
    if (!f) return false;
    if (i === rest.length - 1) return true;
    if (f.fieldKind !== "message") return false;
    if (f.message.typeName === ANY) return true;
    d = f.message;
  }
  return true;
}
