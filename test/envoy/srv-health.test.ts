/**
 * Envoy in the loop, SRV and active health checks (SotW, then Delta). Real BIND serves
 *   _http._tcp.svc  SRV 0 1 PORT a / SRV 0 3 PORT b / SRV 1 1 PORT c   (a, b, c → 127.0.0.41–43)
 * and `web` (A 127.0.0.44–46); dns-eds health-checks every backend over HTTP (`/health` every 400 ms: a
 * 503 or one success flips it, timeouts need three in a row), and the backends keep answering `/` while their health check fails, so a
 * request Envoy still sent to an unhealthy host would show.
 *
 * - SRV weight 1 : 3 shows in the split (Envoy's weighted round robin; tolerance stated below);
 * - SRV priority 1 gets nothing while priority 0 is healthy, and everything when both priority-0
 *   backends fail their checks; they come back on recovery;
 * - one unhealthy backend of `web` is marked UNHEALTHY in Envoy and gets no requests; recovery brings it
 *   back; with every backend unhealthy Envoy enters panic mode (healthy_panic_threshold, default 50 %) and
 *   spreads over all of them — documented in docs/envoy.md.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { type DnsEdsInstance, startDnsEds } from "../support/dns-eds-instance.js";
import { ADS_MODES, dumpEnvoyLogsOnFailure, type Envoy, startEnvoy, tally } from "../support/envoy.js";
import { freePortOnAll } from "../support/grpc-backends.js";
import { type HttpWho, startHttpWhos } from "../support/http-who-backend.js";
import { waitFor } from "../support/wait-for.js";

const [A, B, C] = ["127.0.0.41", "127.0.0.42", "127.0.0.43"] as const;
const WEB = ["127.0.0.44", "127.0.0.45", "127.0.0.46"];
const ORIGIN = "envoy-srv.test";

let bind: BindServer;
let cp: DnsEdsInstance;
let backends: Map<string, HttpWho>;
let port = 0;

dumpEnvoyLogsOnFailure();

const healthCheck = {
  type: "http",
  path: "/health",
  intervalMs: 400,
  timeoutMs: 400,
  healthyThreshold: 1,
  // A 503 flips it at once (a hard failure); three timeouts in a row are needed for a soft one, so a
  // loaded box does not mark a healthy backend.
  unhealthyThreshold: 3,
  initialJitter: 0,
  intervalJitter: 0,
};

beforeAll(async () => {
  port = await freePortOnAll([A, B, C, ...WEB]);
  backends = await startHttpWhos([A, B, C, ...WEB], port);
  bind = await startBindServer({
    zones: [
      {
        origin: ORIGIN,
        records: [
          `_http._tcp.svc 5 IN SRV 0 1 ${port} a`,
          `_http._tcp.svc 5 IN SRV 0 3 ${port} b`,
          `_http._tcp.svc 5 IN SRV 1 1 ${port} c`,
          `a 5 IN A ${A}`,
          `b 5 IN A ${B}`,
          `c 5 IN A ${C}`,
          ...WEB.map((h) => `web 5 IN A ${h}`),
        ].join("\n"),
      },
    ],
  });
  cp = await startDnsEds({
    dns: { servers: [bind.server], minTtl: 1, allowLoopback: true },
    clusters: [
      { name: "svc", srv: { name: `_http._tcp.svc.${ORIGIN}` }, ipFamily: "V4_ONLY", healthCheck },
      { name: "web", dns: { name: `web.${ORIGIN}`, port }, ipFamily: "V4_ONLY", healthCheck },
    ],
  });
}, 60_000);

afterAll(async () => {
  await cp?.stop();
  await bind?.stop();
  for (const b of backends?.values() ?? []) await b.close();
});

const health = (hosts: Awaited<ReturnType<Envoy["hosts"]>>) =>
  Object.fromEntries((hosts ?? []).map((h) => [h.address, h.edsHealth]));

describe.each(ADS_MODES)("SRV and health checks through Envoy (ADS %s)", (mode) => {
  let envoy: Envoy;
  beforeAll(async () => {
    envoy = await startEnvoy({ xdsPorts: [cp.xdsPort], ads: mode });
    for (const c of ["svc", "web"]) {
      await waitFor(`Envoy to hold 3 healthy hosts for ${c}`, 20_000, async () => {
        const h = await envoy.hosts(c);
        return h && h.length === 3 && h.every((x) => x.edsHealth === "HEALTHY") ? h : undefined;
      });
    }
  }, 60_000);
  afterAll(async () => {
    await envoy?.stop();
  });
  afterEach(() => {
    for (const b of backends.values()) b.setHealthy(true);
  });

  it("shows SRV priorities and weights and splits 1 : 3 (200 requests: a gets 50 ± 10, b 150 ± 10, c none)", async () => {
    const hosts = (await envoy.hosts("svc")) ?? [];
    const by = Object.fromEntries(hosts.map((h) => [h.address, h]));
    expect(by[A]).toMatchObject({ priority: 0, weight: 1 });
    expect(by[B]).toMatchObject({ priority: 0, weight: 3 });
    expect(by[C]).toMatchObject({ priority: 1, weight: 1 });
    const counts = await tally(200, () => envoy.get("svc"));
    // Envoy's weighted round robin (EDF) with one worker is close to exact; ±10 of 200 allows for the
    // scheduler's start phase and a request that raced a health update.
    expect(counts.get(A) ?? 0).toBeGreaterThanOrEqual(40);
    expect(counts.get(A) ?? 0).toBeLessThanOrEqual(60);
    expect(counts.get(B) ?? 0).toBeGreaterThanOrEqual(140);
    expect(counts.get(B) ?? 0).toBeLessThanOrEqual(160);
    expect(counts.get(C) ?? 0).toBe(0);
    expect(await envoy.stat("cluster.svc.update_rejected")).toBe(0);
  });

  it("fails over to SRV priority 1 when both priority-0 backends fail their health checks, and back", async () => {
    backends.get(A)?.setHealthy(false);
    backends.get(B)?.setHealthy(false);
    await waitFor("Envoy to see a and b UNHEALTHY", 15_000, async () => {
      const h = health(await envoy.hosts("svc"));
      return h[A] === "UNHEALTHY" && h[B] === "UNHEALTHY" && h[C] === "HEALTHY" ? true : undefined;
    });
    const hitsA = backends.get(A)?.hits ?? 0;
    const hitsB = backends.get(B)?.hits ?? 0;
    const counts = await tally(30, () => envoy.get("svc"));
    expect(counts.get(C)).toBe(30);
    expect(backends.get(A)?.hits).toBe(hitsA);
    expect(backends.get(B)?.hits).toBe(hitsB);

    backends.get(A)?.setHealthy(true);
    backends.get(B)?.setHealthy(true);
    await waitFor("Envoy to see a and b HEALTHY again", 15_000, async () => {
      const h = health(await envoy.hosts("svc"));
      return h[A] === "HEALTHY" && h[B] === "HEALTHY" ? true : undefined;
    });
    const back = await tally(40, () => envoy.get("svc"));
    expect(back.get(C) ?? 0).toBe(0);
    expect((back.get(A) ?? 0) + (back.get(B) ?? 0)).toBe(40);
  });

  it("an unhealthy backend is marked in Envoy and gets no requests; recovery brings it back", async () => {
    const [bad, ...good] = WEB as [string, ...string[]];
    backends.get(bad)?.setHealthy(false);
    await waitFor("Envoy to see the backend UNHEALTHY", 15_000, async () =>
      health(await envoy.hosts("web"))[bad] === "UNHEALTHY" ? true : undefined,
    );
    const page = (await cp.adminJson("/clusters?format=json")) as unknown;
    expect(JSON.stringify(page)).toMatch(
      new RegExp(`"address":"${bad.replace(/\./g, "\\.")}"[^}]*"health":"UNHEALTHY"`),
    );
    const before = backends.get(bad)?.hits ?? 0;
    const counts = await tally(30, () => envoy.get("web"));
    expect(counts.has(bad)).toBe(false);
    expect([...counts.keys()].sort()).toEqual([...good].sort());
    expect(backends.get(bad)?.hits).toBe(before);

    backends.get(bad)?.setHealthy(true);
    await waitFor("Envoy to see it HEALTHY", 15_000, async () =>
      health(await envoy.hosts("web"))[bad] === "HEALTHY" ? true : undefined,
    );
    const back = await tally(30, () => envoy.get("web"));
    expect([...back.keys()].sort()).toEqual([...WEB].sort());
  });

  it("with every backend unhealthy Envoy panics (threshold 50 %) and spreads over all of them", async () => {
    const panicBefore = await envoy.stat("cluster.web.lb_healthy_panic");
    for (const h of WEB) backends.get(h)?.setHealthy(false);
    await waitFor("Envoy to see all three UNHEALTHY", 15_000, async () => {
      const h = await envoy.hosts("web");
      return h && h.length === 3 && h.every((x) => x.edsHealth === "UNHEALTHY") ? true : undefined;
    });
    // dns-eds keeps listing them (it never empties a cluster for health), so Envoy has hosts to panic over.
    const counts = await tally(30, () => envoy.get("web"));
    expect([...counts.keys()].sort()).toEqual([...WEB].sort());
    expect(await envoy.stat("cluster.web.lb_healthy_panic")).toBeGreaterThanOrEqual(panicBefore + 30);
  });
});
