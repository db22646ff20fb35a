/**
 * The reload framework: what a reload applies in place and what it names as needing a restart, on the
 * real control plane (startServer) with real DNS (two embedded zone servers on loopback) and a real TCP
 * endpoint for health checks; plus the framework's own bookkeeping.
 */
import { readFileSync } from "node:fs";
import { type AddressInfo, createServer, type Server } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/admin/logger.js";
import { type RunningControlPlane, startServer } from "../../src/app/serve.js";
import { listSchemaKeys } from "../../src/config/config-reference.js";
import type { DnsEdsConfig } from "../../src/config/config-types.js";
import { LiveReload } from "../../src/config/live-reload.js";
import { parseConfigObject } from "../../src/config/load-config.js";
import { startZoneServer, type ZoneServer } from "../../src/demo/zone-server.js";
import { waitFor } from "../support/wait-for.js";

const zoneText = (address: string) =>
  [
    "$ORIGIN reload.test.",
    "$TTL 1",
    "@ IN SOA ns.reload.test. hostmaster.reload.test. 1 60 30 600 1",
    "  IN NS ns",
    "ns IN A 127.0.0.1",
    `svc IN A ${address}`,
    "",
  ].join("\n");

let zoneA: ZoneServer;
let zoneB: ZoneServer;
let tcp: Server;
let tcpPort: number;
let plane: RunningControlPlane | undefined;

beforeAll(async () => {
  zoneA = await startZoneServer({ zoneText: zoneText("127.0.0.11") });
  zoneB = await startZoneServer({ zoneText: zoneText("127.0.0.12") });
  tcp = createServer((s) => s.destroy());
  await new Promise<void>((r) => tcp.listen(0, "127.0.0.1", r));
  tcpPort = (tcp.address() as AddressInfo).port;
});

afterAll(async () => {
  await plane?.stop();
  await zoneA?.close();
  await zoneB?.close();
  tcp?.close();
});

const configOf = (over: { dnsServer: string; healthIntervalMs: number; localMaxEntries?: number }) =>
  parseConfigObject({
    xds: { listen: "127.0.0.1:0" },
    admin: { listen: "127.0.0.1:0" },
    dns: { servers: [over.dnsServer], timeoutMs: 300, minTtl: 1, allowLoopback: true },
    cache: { localMaxEntries: over.localMaxEntries ?? 1000 },
    healthDefaults: {
      type: "tcp",
      intervalMs: over.healthIntervalMs,
      timeoutMs: 200,
      healthyThreshold: 1,
      initialJitter: 0,
    },
    clusters: [
      { name: "svc", dns: { name: "svc.reload.test", port: 8080 } },
      { name: "checked", static: [{ address: "127.0.0.1", port: tcpPort }], healthCheck: {} },
    ],
  });

const endpointsOf = (p: RunningControlPlane, cluster: string) =>
  p.pipeline.snapshot().find((c) => c.name === cluster)?.endpoints ?? [];

describe("a reload on the running control plane", () => {
  it("applies DNS servers and health defaults in place and names what needs a restart", async () => {
    // An hour between checks: the endpoint is not checked before the reload shortens it.
    const first = configOf({ dnsServer: zoneA.server, healthIntervalMs: 3_600_000 });
    plane = await startServer(first, { logger: createLogger({ level: "silent" }) });
    const p = plane;
    await waitFor("svc resolved through zone A", 10_000, async () =>
      endpointsOf(p, "svc")[0]?.address === "127.0.0.11" ? true : undefined,
    );
    expect(endpointsOf(p, "checked")[0]?.health).toBe("UNKNOWN");

    const report = await p.reload(
      configOf({ dnsServer: zoneB.server, healthIntervalMs: 200, localMaxEntries: 50 }),
    );
    expect(report.outcome).toBe("partial");
    expect(report.applied).toEqual(["clusters", "dns.servers", "healthDefaults"]);
    expect(report.needsRestart).toEqual(["cache.localMaxEntries"]);
    expect(report.failed).toEqual([]);
    expect(p.reloads.pendingRestart()).toEqual(["cache.localMaxEntries"]);

    // The new server answers from the next refresh on (TTL 1 s); the new interval checks at once.
    await waitFor("svc resolved through zone B", 15_000, async () => {
      const live = endpointsOf(p, "svc").filter((e) => !e.draining);
      return live.length === 1 && live[0]?.address === "127.0.0.12" ? true : undefined;
    });
    // The answer of the old server leaves as any departed endpoint does: listed as DRAINING.
    expect(endpointsOf(p, "svc").find((e) => e.address === "127.0.0.11")?.draining).toBe(true);
    await waitFor("the checked endpoint HEALTHY", 10_000, async () =>
      endpointsOf(p, "checked")[0]?.health === "HEALTHY" ? true : undefined,
    );

    // The same file again: nothing changed that could be applied, and the restart is still pending.
    const again = await p.reload(
      configOf({ dnsServer: zoneB.server, healthIntervalMs: 200, localMaxEntries: 50 }),
    );
    expect(again.outcome).toBe("partial");
    expect(again.needsRestart).toEqual(["cache.localMaxEntries"]);
    // Back to the running value: nothing pending any more.
    const back = await p.reload(configOf({ dnsServer: zoneB.server, healthIntervalMs: 200 }));
    expect(back.outcome).toBe("unchanged");
    expect(p.reloads.pendingRestart()).toEqual([]);
  }, 60_000);

  it("covers every config key: live ones as documented in docs/operations.md, the rest named there as restart", () => {
    const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "operations.md"), "utf8");
    const table = doc.slice(
      doc.indexOf("<!-- reload-keys:begin -->"),
      doc.indexOf("<!-- reload-keys:end -->"),
    );
    const rows = [...table.matchAll(/^\| `([^`]+)` \| (live|restart) \|/gm)].map((m) => ({
      key: m[1] as string,
      how: m[2] as string,
    }));
    expect(rows.length).toBeGreaterThan(10);
    const live = rows.filter((r) => r.how === "live").map((r) => r.key);
    expect(plane?.reloads.liveKeys()).toEqual([...live].sort());
    // Every key of the schema is under exactly one row (clusters[] keys are under `clusters`).
    for (const { path } of listSchemaKeys()) {
      const key = path.replaceAll("[]", "");
      const covering = rows.filter(
        (r) => key === r.key || key.startsWith(`${r.key}.`) || r.key.startsWith(`${key}.`),
      );
      expect(covering.length, `reload rows covering ${path}`).toBeGreaterThan(0);
    }
    for (const r of rows) {
      const under = rows.filter((o) => o !== r && (r.key === o.key || r.key.startsWith(`${o.key}.`)));
      expect(under, `${r.key} listed twice`).toEqual([]);
    }
  });
});

describe("the reload framework", () => {
  const base = parseConfigObject({ dns: { servers: ["127.0.0.1:53"] }, clusters: [] });
  const withDns = (c: DnsEdsConfig, dns: Partial<DnsEdsConfig["dns"]>): DnsEdsConfig => ({
    ...c,
    dns: { ...c.dns, ...dns },
  });

  it("reports a failing applier's keys as failed, keeps their old value and counts the reload as partial", async () => {
    const r = new LiveReload(base);
    r.register("dns.timeoutMs", () => {
      throw new Error("no");
    });
    r.register("dns.attempts", () => {});
    const report = await r.apply(withDns(base, { timeoutMs: 900, attempts: 5 }));
    expect(report).toEqual({
      outcome: "partial",
      applied: ["dns.attempts"],
      needsRestart: [],
      failed: [{ key: "dns.timeoutMs", error: "no" }],
    });
    expect(r.current().dns.attempts).toBe(5);
    expect(r.current().dns.timeoutMs).toBe(base.dns.timeoutMs);
    expect(r.pendingRestart()).toEqual(["dns.timeoutMs"]);
  });

  it("runs one applier once for several of its keys and refuses overlapping registrations", async () => {
    const r = new LiveReload(base);
    let runs = 0;
    r.register(["dns.timeoutMs", "dns.backoff"], () => {
      runs++;
    });
    expect(() => r.register("dns.backoff.baseMs", () => {})).toThrow(/overlaps dns.backoff/);
    const next = withDns(base, { timeoutMs: 900, backoff: { baseMs: 20, maxMs: 40 } });
    const report = await r.apply(next);
    expect(runs).toBe(1);
    expect(report.outcome).toBe("applied");
    expect(report.applied).toEqual(["dns.backoff", "dns.timeoutMs"]);
    expect(Object.isFrozen(r.current().dns)).toBe(true);
  });
});
