import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { type DemoReport, runDemo } from "../../src/demo/demo.js";

// End to end: the real zone server, backends, control plane (src/app/serve.ts) and grpc-js-xds client.
const PHASE_MS = 8_000;

const sum = (counts: Record<string, number>, re: RegExp) =>
  Object.entries(counts)
    .filter(([k]) => re.test(k))
    .reduce((a, [, n]) => a + n, 0);

describe("runDemo", () => {
  it(
    "moves calls as the demo changes DNS, fails a backend and prefers IPv6",
    async () => {
      const out = new PassThrough();
      let text = "";
      out.on("data", (d: Buffer) => {
        text += d.toString();
      });
      const report: DemoReport = await runDemo({ phaseMs: PHASE_MS, out, concurrency: 2, pauseMs: 20 });
      const phase = (id: string) => report.phases.find((p) => p.phase === id)?.counts ?? {};
      expect(report.aborted).toBe(false);
      expect(report.phases.map((p) => p.phase)).toEqual([
        "start",
        "record-added",
        "backend-failed",
        "backend-back",
        "prefer-ipv6",
        "aaaa-removed",
      ]);
      const detail = JSON.stringify(report.phases, null, 1);
      // Two A records at first: both get calls, the third backend none.
      expect(sum(phase("start"), /backend-1 +127\.0\.0\.1:/), detail).toBeGreaterThan(0);
      expect(sum(phase("start"), /backend-2 +127\.0\.0\.2:/), detail).toBeGreaterThan(0);
      expect(sum(phase("start"), /127\.0\.0\.3/), detail).toBe(0);
      // The new A record brings backend-3 in.
      expect(sum(phase("record-added"), /backend-3 +127\.0\.0\.3:/), detail).toBeGreaterThan(0);
      // The failed backend serves nothing while down, and gets calls again once back.
      expect(sum(phase("backend-failed"), /backend-2/), detail).toBe(0);
      expect(sum(phase("backend-failed"), /backend-[13]/), detail).toBeGreaterThan(0);
      expect(sum(phase("backend-back"), /backend-2/), detail).toBeGreaterThan(0);
      // IPv6 preferred: most calls over ::1; after the AAAA record goes, IPv4 again.
      const v6 = sum(phase("prefer-ipv6"), /\[::1\]/);
      expect(v6, detail).toBeGreaterThan(sum(phase("prefer-ipv6"), /127\.0\.0\./));
      expect(sum(phase("aaaa-removed"), /127\.0\.0\./), detail).toBeGreaterThan(0);
      // Not a TTY: one plain snapshot per phase.
      expect(text).not.toContain("\x1b[");
      expect(text.match(/^Now: /gm)).toHaveLength(6);
      // Beside the calls, what dns-eds published: ::1 moved to priority 0 when IPv6 was preferred.
      const snapshots = text.split(/\n(?=dns-eds demo)/);
      expect(snapshots[4]).toMatch(/Published by dns-eds[\s\S]*\[::1\]:\d+ +priority 0 +HEALTHY/);
      expect(snapshots[0]).toMatch(/\[::1\]:\d+ +priority 1/);
    },
    6 * PHASE_MS + 60_000,
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
