/**
 * End to end through the real binary: reloading and stopping `dns-eds serve` as an operator does it.
 * SIGHUP alone makes it read a file the watcher cannot see (a symlink's target rewritten in place), and
 * a file swapped in as Kubernetes swaps a ConfigMap is reloaded without a signal. Each reload is checked
 * on what a grpc-go client then receives, and that its ADS stream was not replaced. Every section:
 * clusters, dns.servers (a second BIND), healthDefaults and shutdown apply live; xds, admin and cache
 * changes are named as needing a restart and leave the old values in force. Then the stops: SIGTERM
 * drains (not ready at once, clients keep their endpoints, exit 0), a second stop signal exits at once
 * (1), SIGINT stops without draining (0).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backendsOf, type GoCall, type GrpcGoClient, startGrpcGoClient } from "../grpc-go/grpc-go-client.js";
import { type BindServer, type BindZone, startBindServer } from "../support/bind-server.js";
import { identifiedStreams, spawnDnsEds } from "../support/dns-eds-process.js";
import { tcpOpen } from "../support/envoy.js";
import { freePort } from "../support/etcd-server.js";
import { until } from "../support/wait-for.js";
import { type E2eStack, FAST_GRPC_HEALTH, startE2eStack } from "./stack.js";

const ORIGIN = "reload.e2e.test";
const [H1, H2, H3] = ["127.0.0.91", "127.0.0.92", "127.0.0.93"] as [string, string, string];

let stack: E2eStack;
let otherBind: BindServer;
const clients: GrpcGoClient[] = [];

const zone = (hosts: string[]): BindZone => ({
  origin: ORIGIN,
  negativeTtl: 1,
  records: [...hosts.map((h) => `web 1 IN A ${h}`), `api 1 IN A ${H3}`].join("\n"),
});

const cluster = (name: string) => ({
  name,
  dns: { name: `${name}.${ORIGIN}`, port: stack.port },
  ipFamily: "V4_ONLY",
  grpcListener: true,
  healthCheck: FAST_GRPC_HEALTH,
  drainMs: 0,
});

interface Shape {
  servers?: string[];
  clusters?: string[];
  shutdown?: Record<string, number>;
  localMaxEntries?: number;
}
const config = (s: Shape = {}) => ({
  admin: { listen: "127.0.0.1:0" },
  xds: { listen: "127.0.0.1:0", limits: { debounceMs: 20 } },
  dns: {
    servers: s.servers ?? [stack.bind.server],
    timeoutMs: 500,
    attempts: 2,
    minTtl: 1,
    allowLoopback: true,
  },
  ...(s.localMaxEntries ? { cache: { localMaxEntries: s.localMaxEntries } } : {}),
  ...(s.shutdown ? { shutdown: s.shutdown } : {}),
  clusters: (s.clusters ?? ["web"]).map(cluster),
});

beforeAll(async () => {
  [stack, otherBind] = await Promise.all([
    startE2eStack({
      name: "e2e-reload",
      hosts: [H1, H2, H3],
      zones: () => [zone([H1, H2])],
      symlinkConfig: true,
      config: (bind, port) => ({
        admin: { listen: "127.0.0.1:0" },
        xds: { listen: "127.0.0.1:0", limits: { debounceMs: 20 } },
        dns: { servers: [bind.server], timeoutMs: 500, attempts: 2, minTtl: 1, allowLoopback: true },
        clusters: [
          {
            name: "web",
            dns: { name: `web.${ORIGIN}`, port },
            ipFamily: "V4_ONLY",
            grpcListener: true,
            healthCheck: FAST_GRPC_HEALTH,
            drainMs: 0,
          },
        ],
      }),
    }),
    // The same name on another DNS server, with other data: where a dns.servers reload points.
    startBindServer({ zones: [zone([H3])] }),
  ]);
}, 180_000);

afterAll(async () => {
  for (const c of clients) await c.stop();
  await stack?.close();
  await otherBind?.stop();
});

function go(targets: string[], nodeId: string, xdsServer = stack.dnsEds.xdsServer): GrpcGoClient {
  const c = startGrpcGoClient({ target: targets.map((t) => `xds:///${t}`), xdsServer, nodeId });
  clients.push(c);
  return c;
}
const only = (hosts: string[]) => (w: GoCall[]) =>
  w.every((c) => c.backend !== undefined) &&
  JSON.stringify(backendsOf(w)) === JSON.stringify([...hosts].sort());

/** The reload line the serve command logs after a reload (fields outcome, applied, needsRestart). */
const reloadLine = (from: number) =>
  stack.dnsEds.waitLog(
    (l) => typeof l.outcome === "string" && Array.isArray(l.applied),
    "a reload report",
    from,
  );

describe("reloading the real binary", () => {
  it("SIGHUP reloads a file the watcher did not see; the client's stream stays the same", async () => {
    const g = go(["web"], "e2e-reload-hup");
    await g.until("calls on web", 10, only([H1, H2]), { target: "xds:///web" });
    const mark = stack.dnsEds.mark();
    stack.writeConfigUnwatched(config({ clusters: ["web", "api"] }));
    stack.dnsEds.signal("SIGHUP");
    const changed = await stack.dnsEds.waitLog((l) => l.msg === "config file changed", "the reload", mark);
    // Only the signal could have read it: the watcher would have logged reason "file change".
    expect(changed.reason).toBe("SIGHUP");
    const report = await reloadLine(mark);
    expect({ outcome: report.outcome, applied: report.applied, needsRestart: report.needsRestart }).toEqual({
      outcome: "applied",
      applied: ["clusters"],
      needsRestart: [],
    });
    expect((await stack.dnsEds.clusters()).map((c) => c.name).sort()).toEqual(["api", "web"]);
    expect(identifiedStreams(stack.dnsEds).filter((n) => n === "e2e-reload-hup")).toHaveLength(1);
    expect(identifiedStreams(stack.dnsEds, mark).filter((n) => n === "e2e-reload-hup")).toEqual([]);
    await g.stop();
    const g2 = go(["api"], "e2e-reload-hup-api");
    await g2.until("calls on api", 5, only([H3]));
  }, 90_000);

  it("a file swapped in reloads without a signal: removing a cluster leaves the other's stream alone", async () => {
    stack.writeConfig(config({ clusters: ["web", "api"] }));
    await until(async () => (await stack.dnsEds.clusters()).length === 2, 10_000, "web and api");
    const g = go(["web", "api"], "e2e-reload-file");
    await g.until("calls on web", 10, only([H1, H2]), { target: "xds:///web" });
    await g.until("calls on api", 5, only([H3]), { target: "xds:///api" });
    const mark = stack.dnsEds.mark();
    stack.writeConfig(config({ clusters: ["web"] }));
    const changed = await stack.dnsEds.waitLog((l) => l.msg === "config file changed", "the reload", mark);
    expect(changed.reason).toBe("file change");
    expect((await reloadLine(mark)).applied).toEqual(["clusters"]);
    await g.until("api calls fail (the cluster is gone)", 5, (w) => w.every((c) => c.backend === undefined), {
      target: "xds:///api",
    });
    await g.until("web calls still answered", 10, only([H1, H2]), { target: "xds:///web" });
    // No new ADS stream from this client since before the reload (grpc-go opens one per target).
    expect(identifiedStreams(stack.dnsEds, mark).filter((n) => n === "e2e-reload-file")).toEqual([]);
  }, 90_000);

  it("a bad file keeps the running config and is counted; clients see nothing", async () => {
    const g = go(["web"], "e2e-reload-bad");
    await g.until("calls on web", 10, only([H1, H2]));
    const errors = await stack.dnsEds.metric("dnseds_config_reload_errors_total");
    const mark = stack.dnsEds.mark();
    stack.writeConfig({ ...config(), clusters: [{ name: "web", dns: { name: "web..bad", port: 70_000 } }] });
    await stack.dnsEds.waitLog(
      (l) => l.msg === "config reload rejected; keeping the running config",
      "the rejection",
      mark,
    );
    expect(await stack.dnsEds.metric("dnseds_config_reload_errors_total")).toBe(errors + 1);
    expect((await stack.dnsEds.clusters()).map((c) => c.name)).toEqual(["web"]);
    await g.until("calls on web", 10, only([H1, H2]));
    expect(g.failuresSinceFirstAnswer()).toEqual([]);
    stack.writeConfig(config());
  }, 60_000);

  it("dns.servers applies live: the name now resolves on the other server, and clients follow", async () => {
    const g = go(["web"], "e2e-reload-dns");
    await g.until("calls on web", 10, only([H1, H2]));
    const mark = stack.dnsEds.mark();
    stack.writeConfig(config({ servers: [otherBind.server] }));
    const report = await reloadLine(mark);
    expect(report.applied).toEqual(["dns.servers"]);
    expect(report.outcome).toBe("applied");
    await g.until(`calls on ${H3} only (the other server's answer)`, 10, only([H3]));
    stack.writeConfig(config());
    await g.until("calls back on the first server's answer", 10, only([H1, H2]));
  }, 90_000);

  it("healthDefaults applies live: a cluster's check switched from TCP to gRPC by it now sees NOT_SERVING", async () => {
    const probe = { intervalMs: 300, timeoutMs: 250, healthyThreshold: 1, unhealthyThreshold: 1 };
    const withDefaults = (type: string) => ({
      ...config(),
      healthDefaults: { type, ...probe },
      clusters: [{ ...cluster("web"), healthCheck: {} }],
    });
    const g = go(["web"], "e2e-reload-healthdefaults");
    let mark = stack.dnsEds.mark();
    stack.writeConfig(withDefaults("tcp"));
    expect((await reloadLine(mark)).applied).toContain("healthDefaults");
    await g.until("calls on web", 10, only([H1, H2]));
    try {
      stack.setServing(H2, false);
      // TCP checks cannot see NOT_SERVING: after several more passing probes H2 is still HEALTHY.
      const ok = await stack.dnsEds.metric("dnseds_health_checks_total", 'outcome="ok"');
      await until(
        async () => (await stack.dnsEds.metric("dnseds_health_checks_total", 'outcome="ok"')) >= ok + 10,
        15_000,
        "ten more passing TCP probes",
      );
      expect((await stack.dnsEds.cluster("web"))?.endpoints.find((e) => e.address === H2)?.health).toBe(
        "HEALTHY",
      );

      mark = stack.dnsEds.mark();
      stack.writeConfig(withDefaults("grpc"));
      expect((await reloadLine(mark)).applied).toContain("healthDefaults");
      await until(
        async () =>
          (await stack.dnsEds.cluster("web"))?.endpoints.find((e) => e.address === H2)?.health ===
          "UNHEALTHY",
        15_000,
        "H2 UNHEALTHY under the gRPC check",
      );
      await g.until(`no calls on ${H2}`, 10, only([H1]));
    } finally {
      stack.setServing(H2, true);
    }
    stack.writeConfig(config());
    await g.until("calls on web", 10, only([H1, H2]));
  }, 90_000);

  it("keys that need a restart (xds, admin, cache) are named, the reload is partial, old values stay in force", async () => {
    const g = go(["web"], "e2e-reload-restart");
    await g.until("calls on web", 10, only([H1, H2]));
    const [xdsPort, adminPort] = [await freePort(), await freePort()];
    const mark = stack.dnsEds.mark();
    stack.writeConfig({
      ...config({ localMaxEntries: 1234 }),
      xds: { listen: `127.0.0.1:${xdsPort}`, limits: { debounceMs: 20 } },
      admin: { listen: `127.0.0.1:${adminPort}` },
    });
    const report = await reloadLine(mark);
    expect({ outcome: report.outcome, needsRestart: [...(report.needsRestart as string[])].sort() }).toEqual({
      outcome: "partial",
      needsRestart: ["admin.listen", "cache.localMaxEntries", "xds.listen"],
    });
    expect(
      await stack.dnsEds.metric("dnseds_config_reloads_total", 'outcome="partial"'),
    ).toBeGreaterThanOrEqual(1);
    // Still on the old ports (this very metric came from the old admin port), not on the new ones; the
    // client's stream is untouched.
    expect(await tcpOpen("127.0.0.1", xdsPort)).toBe(false);
    expect(await tcpOpen("127.0.0.1", adminPort)).toBe(false);
    await g.until("calls on web", 10, only([H1, H2]));
    expect(identifiedStreams(stack.dnsEds, mark).filter((n) => n === "e2e-reload-restart")).toEqual([]);
    const back = stack.dnsEds.mark();
    stack.writeConfig(config());
    expect((await reloadLine(back)).needsRestart).toEqual([]);
  }, 60_000);
});

describe("stopping the real binary", () => {
  it("SIGTERM drains: /readyz 503 at once, clients keep calling their endpoints, exit 0", async () => {
    const g = go(["web"], "e2e-stop-term");
    await g.until("calls on web", 10, only([H1, H2]));
    // shutdown is live: the delay read when SIGTERM comes is the reloaded one.
    const mark = stack.dnsEds.mark();
    stack.writeConfig(config({ shutdown: { drainDelayMs: 1500, drainWindowMs: 500, graceMs: 500 } }));
    expect((await reloadLine(mark)).applied).toEqual(["shutdown"]);

    const stopMark = stack.dnsEds.mark();
    stack.dnsEds.signal("SIGTERM");
    const draining = await stack.dnsEds.waitLog(
      (l) => l.drainDelayMs !== undefined,
      "the draining line",
      stopMark,
    );
    expect(draining.drainDelayMs).toBe(1500);
    const ready = await stack.dnsEds.readyz();
    expect(ready.status).toBe(503);
    expect(await stack.dnsEds.exited).toEqual({ code: 0, signal: null });
    // The control plane is gone; the client keeps the endpoints it was given and its calls still land.
    await g.until("calls on web after dns-eds exited", 10, only([H1, H2]));
  }, 90_000);

  it("a second stop signal during the drain exits at once with status 1", async () => {
    const p = await spawnDnsEds({ main: stack.main, config: stack.configPath, cwd: stack.workDir });
    try {
      const mark = p.mark();
      stack.writeConfig(config({ shutdown: { drainDelayMs: 60_000, drainWindowMs: 500, graceMs: 500 } }));
      await p.waitLog(
        (l) => Array.isArray(l.applied) && l.applied.includes("shutdown"),
        "shutdown reloaded",
        mark,
      );
      p.signal("SIGTERM");
      await p.waitLog((l) => l.drainDelayMs === 60_000, "draining with the 60 s delay", mark);
      const second = Date.now();
      p.signal("SIGTERM");
      const exit = await p.exited;
      // "At once": far inside the 60 s drain delay it cut short (the margin is for a loaded box).
      expect(Date.now() - second).toBeLessThan(20_000);
      expect(exit).toEqual({ code: 1, signal: null });
      expect(p.lines.some((l) => l.msg === "second stop signal: exiting at once")).toBe(true);
    } finally {
      await p.kill();
    }
  }, 90_000);

  it("SIGINT stops at once without draining, exit 0", async () => {
    stack.writeConfig(config({ shutdown: { drainDelayMs: 60_000, drainWindowMs: 500, graceMs: 500 } }));
    const p = await spawnDnsEds({ main: stack.main, config: stack.configPath, cwd: stack.workDir });
    try {
      const mark = p.mark();
      p.signal("SIGINT");
      await p.waitLog((l) => l.msg === "stopping", "stopping", mark);
      expect(await p.exited).toEqual({ code: 0, signal: null });
      expect(p.lines.some((l) => l.drainDelayMs !== undefined)).toBe(false);
    } finally {
      await p.kill();
    }
  }, 60_000);
});
