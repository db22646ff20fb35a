import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { type DemoReport, runDemo } from "../../src/demo/demo.js";
import { until } from "../support/wait-for.js";

// End to end: the real zone server, backends, control plane (src/app/serve.ts) and grpc-js-xds client.
// Each phase ends once its effect shows in the calls of the last 2 s (bounded by PHASE_BOUND_MS), not
// after a fixed time slice: on a loaded box a DNS change (TTL 5 s) or a health check may take longer
// than a slice, and a fixed slice would then be judged on the transition.
const PHASE_BOUND_MS = 30_000;

const sum = (counts: Record<string, number>, re: RegExp) =>
  Object.entries(counts)
    .filter(([k]) => re.test(k))
    .reduce((a, [, n]) => a + n, 0);

/** What the calls of the last 2 s must show before each phase may end. */
const SETTLED: Record<string, (recent: Record<string, number>) => boolean> = {
  start: (r) => sum(r, /backend-1 +127\.0\.0\.1:/) > 0 && sum(r, /backend-2 +127\.0\.0\.2:/) > 0,
  "record-added": (r) => sum(r, /backend-3 +127\.0\.0\.3:/) > 0,
  "backend-failed": (r) => sum(r, /backend-2/) === 0 && sum(r, /backend-[13]/) > 0,
  "backend-back": (r) => sum(r, /backend-2/) > 0,
  "prefer-ipv6": (r) => sum(r, /\[::1\]/) > 0 && sum(r, /127\.0\.0\./) === 0,
  "aaaa-removed": (r) => sum(r, /127\.0\.0\./) > 0 && sum(r, /\[::1\]/) === 0,
};

describe("runDemo", () => {
  it(
    "moves calls as the demo changes DNS, fails a backend and prefers IPv6",
    async () => {
      const out = new PassThrough();
      let text = "";
      out.on("data", (d: Buffer) => {
        text += d.toString();
      });
      const settledIn: Record<string, Record<string, number>> = {};
      const report: DemoReport = await runDemo({
        out,
        concurrency: 2,
        pauseMs: 20,
        phaseEnd: async (phase, recent) => {
          const settled = SETTLED[phase];
          if (!settled) throw new Error(`no expectation for phase ${phase}`);
          await until(() => settled(recent()), PHASE_BOUND_MS, `phase ${phase} to show in the calls`);
          settledIn[phase] = recent();
        },
      });
      const phase = (id: string) => report.phases.find((p) => p.phase === id)?.counts ?? {};
      expect(report.aborted).toBe(false);
      expect(report.phases.map((p) => p.phase)).toEqual(Object.keys(SETTLED));
      const detail = JSON.stringify(report.phases, null, 1);
      // Two A records at first: the third backend gets no call in the whole phase.
      expect(sum(phase("start"), /127\.0\.0\.3/), detail).toBe(0);
      // The failed backend is stopped before its phase opens: no call of that phase reaches it.
      expect(sum(phase("backend-failed"), /backend-2/), detail).toBe(0);
      // Each phase ended on its effect (recorded above): the new record, the recovery, IPv6, IPv4 again.
      expect(Object.keys(settledIn)).toEqual(Object.keys(SETTLED));
      // Not a TTY: one plain snapshot per phase.
      expect(text).not.toContain("\x1b[");
      expect(text.match(/^Now: /gm)).toHaveLength(6);
      // Beside the calls, what dns-eds published: ::1 moved to priority 0 when IPv6 was preferred.
      const snapshots = text.split(/\n(?=dns-eds demo)/);
      expect(snapshots[4]).toMatch(/Published by dns-eds[\s\S]*\[::1\]:\d+ +priority 0 +HEALTHY/);
      expect(snapshots[0]).toMatch(/\[::1\]:\d+ +priority 1/);
    },
    6 * PHASE_BOUND_MS + 60_000,
  );

  it("stops early on abort and cleans up", async () => {
    const ac = new AbortController();
    const out = new PassThrough();
    out.resume();
    setTimeout(() => ac.abort(), 3_000);
    const report = await runDemo({ phaseMs: 60_000, out, signal: ac.signal });
    expect(report.aborted).toBe(true);
    expect(report.phases.map((p) => p.phase)).toEqual(["start"]);
  }, 60_000);
});
