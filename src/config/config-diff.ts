/**
 * Which keys differ between two runtime configs, as dotted paths (`dns.servers`, `cache.etcd.prefix`),
 * so a reload can say exactly what it applied and what needs a restart. Lists are compared whole (a
 * changed server list is one change to `dns.servers`, not to `dns.servers[1]`).
 */
import type { DnsEdsConfig } from "./config-types.js";

/** Runtime-only fields that belong to a file key: they change together with it. */
const ALIASES: Readonly<Record<string, string>> = { "dns.serversFromSystem": "dns.servers" };
/** A label, not content. */
const IGNORED = new Set(["source"]);

const isMapping = (v: unknown): v is Record<string, unknown> =>
  typeof v === "object" && v !== null && !Array.isArray(v);

/** Dotted paths of the leaves (values that are not mappings) that differ, sorted and unique. */
export function changedPaths(prev: DnsEdsConfig, next: DnsEdsConfig): string[] {
  const out = new Set<string>();
  const visit = (a: unknown, b: unknown, path: string) => {
    if (IGNORED.has(path)) return;
    if (isMapping(a) && isMapping(b)) {
      for (const key of new Set([...Object.keys(a), ...Object.keys(b)]))
        visit(a[key], b[key], path === "" ? key : `${path}.${key}`);
      return;
    }
    if (JSON.stringify(a) !== JSON.stringify(b)) out.add(ALIASES[path] ?? path);
  };
  visit(prev, next, "");
  return [...out].sort();
}

/** True when `path` is `key` itself or lies under it (`dns.backoff.baseMs` under `dns.backoff`). */
export function pathUnder(path: string, key: string): boolean {
  return path === key || path.startsWith(`${key}.`);
}

/** `target` with the value at `path` taken from `source` (deleted when `source` has none); copies. */
export function withValueFrom<T>(target: T, source: unknown, path: string): T {
  const copy = structuredClone(target) as Record<string, unknown>;
  const parts = path.split(".");
  let to: Record<string, unknown> = copy;
  let from: unknown = source;
  for (const [i, part] of parts.entries()) {
    const last = i === parts.length - 1;
    from = isMapping(from) ? from[part] : undefined;
    if (last) {
      if (from === undefined) delete to[part];
      else to[part] = structuredClone(from);
      break;
    }
    if (!isMapping(to[part])) {
      if (from === undefined) break;
      to[part] = {};
    }
    to = to[part] as Record<string, unknown>;
  }
  return copy as T;
}
