/**
 * Readiness: named checks injected by the integrator (DNS reachable, etcd connected or not configured,
 * first resolution of every cluster done) evaluated together, each bounded by a timeout so a hung
 * dependency makes the replica not-ready instead of hanging the probe.
 */

export interface CheckResult {
  ok: boolean;
  /** Why it is not ready, or a short detail when it is. */
  reason?: string;
}

export interface ReadinessCheck {
  name: string;
  check(): CheckResult | Promise<CheckResult>;
}

export interface ReadinessReport {
  ready: boolean;
  checks: Array<{ name: string; ok: boolean; reason?: string }>;
}

export async function evaluateReadiness(
  checks: readonly ReadinessCheck[],
  timeoutMs = 2_000,
): Promise<ReadinessReport> {
  const results = await Promise.all(
    checks.map(async (c) => {
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<CheckResult>((resolve) => {
        timer = setTimeout(
          () => resolve({ ok: false, reason: `check did not answer within ${timeoutMs} ms` }),
          timeoutMs,
        );
      });
      try {
        const r = await Promise.race([Promise.resolve().then(() => c.check()), timeout]);
        return { name: c.name, ok: r.ok, ...(r.reason !== undefined ? { reason: r.reason } : {}) };
      } catch (err) {
        return { name: c.name, ok: false, reason: `check failed: ${(err as Error).message ?? String(err)}` };
      } finally {
        clearTimeout(timer);
      }
    }),
  );
  return { ready: results.every((r) => r.ok), checks: results };
}

/** etcd is fine when connected or not configured; degraded (unreachable, no quorum) is not ready. */
export function etcdReadiness(state: () => "connected" | "degraded" | "disabled"): ReadinessCheck {
  return {
    name: "etcd",
    check() {
      const s = state();
      if (s === "degraded") return { ok: false, reason: "etcd unreachable or without quorum" };
      return { ok: true, reason: s === "disabled" ? "not configured" : "connected" };
    },
  };
}

/** Ready once every cluster had its first resolution; the reason names the ones still waiting. */
export function firstResolutionReadiness(pendingClusters: () => readonly string[]): ReadinessCheck {
  return {
    name: "first-resolution",
    check() {
      const pending = pendingClusters();
      if (pending.length === 0) return { ok: true };
      const shown = pending.slice(0, 10).join(", ");
      return {
        ok: false,
        reason: `waiting for the first resolution of ${pending.length} cluster(s): ${shown}`,
      };
    },
  };
}

/** DNS is reachable when at least one configured server answered recently (the resolver knows). */
export function dnsReadiness(status: () => { reachable: boolean; detail?: string }): ReadinessCheck {
  return {
    name: "dns",
    check() {
      const s = status();
      return s.reachable
        ? { ok: true, ...(s.detail ? { reason: s.detail } : {}) }
        : { ok: false, reason: s.detail ?? "no DNS server reachable" };
    },
  };
}
