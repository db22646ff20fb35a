/**
 * CSDS `node_matchers` (envoy.type.matcher.v3.NodeMatcher): which clients a status request is about.
 * A NodeMatcher matches when its `node_id` StringMatcher (if set) and every `node_metadatas` StructMatcher
 * match (AND); a request's matchers are ORed, and no matchers means every client. Metadata matchers
 * read the node as CSDS returns it, so besides the client's own metadata they can match what dns-eds
 * adds under `dns_eds` — e.g. path ["dns_eds", "locality", "zone"] filters by zone, ["dns_eds", "peer"]
 * by address. Matchers are compiled once per request; a malformed one (an unsafe or invalid regex, a
 * `custom` string matcher, an empty path) throws MatcherError naming it.
 */
import type { JsonValue } from "@bufbuild/protobuf";
import type { NodeMatcher } from "../gen/envoy/type/matcher/v3/node_pb.js";
import type { DoubleMatcher } from "../gen/envoy/type/matcher/v3/number_pb.js";
import type { StringMatcher } from "../gen/envoy/type/matcher/v3/string_pb.js";
import type { ValueMatcher } from "../gen/envoy/type/matcher/v3/value_pb.js";
import { fullMatchRegex } from "./full-match-regex.js";

export class MatcherError extends Error {
  readonly code = "ERR_XDS_BAD_MATCHER";
  constructor(message: string) {
    super(message);
    this.name = "MatcherError";
  }
}

/** The node as a matcher sees it: its id, and its metadata (dns-eds's `dns_eds` key included) as JSON. */
export interface MatchableNode {
  id: string;
  metadata: { [k: string]: JsonValue };
}

export type NodePredicate = (node: MatchableNode) => boolean;

/** Compiles a request's matchers; throws MatcherError for one it cannot evaluate. */
export function compileNodeMatchers(matchers: readonly NodeMatcher[]): NodePredicate {
  if (matchers.length === 0) return () => true;
  const compiled = matchers.map((m, i) => compileOne(m, `node_matchers[${i}]`));
  return (node) => compiled.some((p) => p(node));
}

function compileOne(m: NodeMatcher, where: string): NodePredicate {
  const id = m.nodeId ? compileString(m.nodeId, `${where}.node_id`) : undefined;
  const metas = m.nodeMetadatas.map((sm, i) => {
    const at = `${where}.node_metadatas[${i}]`;
    const path = sm.path.map((seg, j) => {
      if (seg.segment.case !== "key" || seg.segment.value === "") {
        throw new MatcherError(`${at}.path[${j}]: a non-empty key is required`);
      }
      return seg.segment.value;
    });
    if (path.length === 0) throw new MatcherError(`${at}.path: at least one segment is required`);
    if (!sm.value) throw new MatcherError(`${at}.value: required`);
    const value = compileValue(sm.value, `${at}.value`);
    return (metadata: JsonValue) => value(lookup(metadata, path));
  });
  return (node) => (id === undefined || id(node.id)) && metas.every((p) => p(node.metadata));
}

function lookup(v: JsonValue, path: readonly string[]): JsonValue | undefined {
  let at: JsonValue | undefined = v;
  for (const key of path) {
    if (at === null || typeof at !== "object" || Array.isArray(at)) return undefined;
    at = (at as { [k: string]: JsonValue })[key];
  }
  return at;
}

type ValuePredicate = (v: JsonValue | undefined) => boolean;

function compileValue(m: ValueMatcher, at: string): ValuePredicate {
  const p = m.matchPattern;
  switch (p.case) {
    case "nullMatch":
      return (v) => v === null;
    case "doubleMatch": {
      const d = compileDouble(p.value, `${at}.double_match`);
      return (v) => typeof v === "number" && d(v);
    }
    case "stringMatch": {
      const s = compileString(p.value, `${at}.string_match`);
      return (v) => typeof v === "string" && s(v);
    }
    case "boolMatch":
      return (v) => v === p.value;
    case "presentMatch":
      return (v) => (v !== undefined) === p.value;
    case "listMatch": {
      if (p.value.matchPattern.case !== "oneOf")
        throw new MatcherError(`${at}.list_match: one_of is required`);
      const one = compileValue(p.value.matchPattern.value, `${at}.list_match.one_of`);
      return (v) => Array.isArray(v) && v.some((e) => one(e));
    }
    case "orMatch": {
      const any = p.value.valueMatchers.map((vm, i) =>
        compileValue(vm, `${at}.or_match.value_matchers[${i}]`),
      );
      return (v) => any.some((f) => f(v));
    }
    default:
      throw new MatcherError(`${at}: a match pattern is required`);
  }
}

function compileDouble(m: DoubleMatcher, at: string): (n: number) => boolean {
  const p = m.matchPattern;
  if (p.case === "exact") return (n) => n === p.value;
  if (p.case === "range") return (n) => n >= p.value.start && n < p.value.end;
  throw new MatcherError(`${at}: range or exact is required`);
}

function compileString(m: StringMatcher, at: string): (s: string) => boolean {
  const p = m.matchPattern;
  const fold = m.ignoreCase ? (s: string) => s.toLowerCase() : (s: string) => s;
  switch (p.case) {
    case "exact": {
      const want = fold(p.value);
      return (s) => fold(s) === want;
    }
    case "prefix": {
      const want = fold(p.value);
      return (s) => fold(s).startsWith(want);
    }
    case "suffix": {
      const want = fold(p.value);
      return (s) => fold(s).endsWith(want);
    }
    case "contains": {
      const want = fold(p.value);
      return (s) => fold(s).includes(want);
    }
    case "safeRegex": {
      try {
        // Envoy ignores ignore_case for regexes too; the pattern says what it means.
        const re = fullMatchRegex(p.value.regex);
        return (s) => re.test(s);
      } catch (e) {
        throw new MatcherError(`${at}.safe_regex: ${(e as Error).message}`);
      }
    }
    case "custom":
      throw new MatcherError(`${at}.custom: custom string matchers are not supported`);
    default:
      throw new MatcherError(`${at}: a match pattern is required`);
  }
}
