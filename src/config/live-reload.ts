/**
 * The reload framework: each part of the running process registers the config keys it can apply in
 * place, with the function that applies them. A reload diffs the new config against the one in force
 * and runs the appliers of the keys that changed; every other changed key is reported by name as
 * needing a restart, and the reload counts as partial. Nothing is ever reported as applied that was not.
 *
 * The config "in force" is tracked per key: after a partial reload it holds the new values of the keys
 * that were applied and the old values of the rest, so the next reload (and `pendingRestart()`) still
 * names what only a restart will change.
 */
import { changedPaths, pathUnder, withValueFrom } from "./config-diff.js";
import type { DnsEdsConfig } from "./config-types.js";
import { deepFreeze } from "./deep-freeze.js";

/** Applies the new values of its keys; throws when it cannot (the keys then keep their old values). */
export type KeyApplier = (next: DnsEdsConfig, prev: DnsEdsConfig) => void | Promise<void>;

export type ReloadOutcomeLabel = "applied" | "partial" | "unchanged";

export interface ReloadReport {
  /** `applied`: every changed key is in force; `partial`: some need a restart or failed. */
  outcome: ReloadOutcomeLabel;
  /** Changed keys now in force (registered keys, e.g. `dns.servers`, `clusters`). */
  applied: string[];
  /** Changed keys that keep their old value until a restart (full paths, e.g. `cache.etcd.endpoints`). */
  needsRestart: string[];
  /** Registered keys whose applier threw; they keep their old value. */
  failed: Array<{ key: string; error: string }>;
}

interface Registration {
  keys: readonly string[];
  apply: KeyApplier;
}

export class LiveReload {
  private readonly registrations: Registration[] = [];
  private inForce: DnsEdsConfig;
  private lastFile: DnsEdsConfig;

  constructor(initial: DnsEdsConfig) {
    this.inForce = initial;
    this.lastFile = initial;
  }

  /**
   * Declares that `keys` (dotted paths; a key covers everything under it) are applied live by `apply`.
   * When several of them change in one reload, `apply` runs once. A key may be registered only once.
   */
  register(keys: string | readonly string[], apply: KeyApplier): void {
    const list = typeof keys === "string" ? [keys] : [...keys];
    for (const key of list) {
      const clash = this.liveKeys().find((k) => pathUnder(key, k) || pathUnder(k, key));
      if (clash !== undefined) throw new Error(`reload key ${key} overlaps ${clash}, registered before`);
    }
    this.registrations.push({ keys: list, apply });
  }

  /** Every registered key, sorted. */
  liveKeys(): string[] {
    return this.registrations.flatMap((r) => r.keys).sort();
  }

  /** The config in force: applied keys at their new values, the others as they were at start. */
  current(): DnsEdsConfig {
    return this.inForce;
  }

  /** Keys whose value in the last loaded file differs from the value in force (a restart applies them). */
  pendingRestart(): string[] {
    return changedPaths(this.inForce, this.lastFile);
  }

  /** Applies what can be applied of `next`; never throws for an applier's failure (it is reported). */
  async apply(next: DnsEdsConfig): Promise<ReloadReport> {
    this.lastFile = next;
    const prev = this.inForce;
    const changed = changedPaths(prev, next);
    if (changed.length === 0) return { outcome: "unchanged", applied: [], needsRestart: [], failed: [] };

    let inForce = prev;
    const applied: string[] = [];
    const failed: ReloadReport["failed"] = [];
    const covered = new Set<string>();
    for (const reg of this.registrations) {
      const mine = changed.filter((p) => reg.keys.some((k) => pathUnder(p, k)));
      if (mine.length === 0) continue;
      for (const p of mine) covered.add(p);
      const keys = reg.keys.filter((k) => mine.some((p) => pathUnder(p, k)));
      try {
        await reg.apply(next, prev);
        for (const k of keys) inForce = withValueFrom(inForce, next, k);
        applied.push(...keys);
      } catch (e) {
        const error = (e as Error)?.message ?? String(e);
        for (const key of keys) failed.push({ key, error });
      }
    }
    const needsRestart = changed.filter((p) => !covered.has(p));
    this.inForce = deepFreeze({ ...inForce, source: next.source });
    return {
      outcome: needsRestart.length === 0 && failed.length === 0 ? "applied" : "partial",
      applied: applied.sort(),
      needsRestart,
      failed,
    };
  }
}

/** One line for the log: what was applied, what needs a restart, what failed. */
export function describeReload(r: ReloadReport): string {
  if (r.outcome === "unchanged") return "config unchanged";
  const parts: string[] = [];
  if (r.applied.length > 0) parts.push(`applied ${r.applied.join(", ")}`);
  if (r.needsRestart.length > 0)
    parts.push(`${r.needsRestart.join(", ")} ${r.needsRestart.length === 1 ? "needs" : "need"} a restart`);
  for (const f of r.failed) parts.push(`${f.key} could not be applied (${f.error})`);
  return `config reload ${r.outcome}: ${parts.join("; ")}`;
}
