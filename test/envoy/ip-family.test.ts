/**
 * Envoy in the loop, IP families (SotW, then Delta). `web` has A 127.0.0.91, 127.0.0.92 and AAAA ::1 on
 * real BIND; one cluster per policy. Envoy shows the priorities each policy gives:
 *   V4_ONLY: v4 at 0 | V6_ONLY: ::1 at 0 | V4_PREFERRED: v4 at 0, ::1 at 1 | V6_PREFERRED: ::1 at 0,
 *   v4 at 1 | ALL: all three at 0;
 * V6_PREFERRED sends everything to ::1 and falls over to IPv4 when ::1 fails its health check (and back);
 * `happyEyeballs` publishes ::1 with 127.0.0.91 in `additional_addresses`, which Envoy accepts and uses.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { type DnsEdsInstance, startDnsEds } from "../support/dns-eds-instance.js";
import { ADS_MODES, dumpEnvoyLogsOnFailure, type Envoy, startEnvoy, tally } from "../support/envoy.js";
import { freePortOnAll } from "../support/grpc-backends.js";
import { type HttpWho, startHttpWhos } from "../support/http-who-backend.js";
import { waitFor } from "../support/wait-for.js";

const V4 = ["127.0.0.91", "127.0.0.92"];
const V6 = "::1";
const ORIGIN = "envoy-ip.test";

let bind: BindServer;
let cp: DnsEdsInstance;
let backends: Map<string, HttpWho>;
let port = 0;

dumpEnvoyLogsOnFailure();

const POLICIES = ["V4_ONLY", "V6_ONLY", "V4_PREFERRED", "V6_PREFERRED", "ALL"] as const;
const EXPECTED: Record<(typeof POLICIES)[number], Record<string, number>> = {
  V4_ONLY: { [V4[0] as string]: 0, [V4[1] as string]: 0 },
  V6_ONLY: { [V6]: 0 },
  V4_PREFERRED: { [V4[0] as string]: 0, [V4[1] as string]: 0, [V6]: 1 },
  V6_PREFERRED: { [V6]: 0, [V4[0] as string]: 1, [V4[1] as string]: 1 },
  ALL: { [V4[0] as string]: 0, [V4[1] as string]: 0, [V6]: 0 },
};
const clusterName = (p: string) => p.toLowerCase().replace(/_/g, "-");

beforeAll(async () => {
  port = await freePortOnAll([...V4, V6]);
  backends = await startHttpWhos([...V4, V6], port);
  bind = await startBindServer({
    zones: [
      { origin: ORIGIN, records: [...V4.map((h) => `web 5 IN A ${h}`), `web 5 IN AAAA ${V6}`].join("\n") },
    ],
  });
  const dns = { name: `web.${ORIGIN}`, port };
  cp = await startDnsEds({
    dns: { servers: [bind.server], minTtl: 1, allowLoopback: true },
    clusters: [
      ...POLICIES.map((p) => ({ name: clusterName(p), dns, ipFamily: p })),
      {
        name: "v6-failover",
        dns,
        ipFamily: "V6_PREFERRED",
        healthCheck: {
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
        },
      },
      { name: "happy-eyeballs", dns, ipFamily: "V6_PREFERRED", happyEyeballs: true },
    ],
  });
}, 60_000);

afterAll(async () => {
  await cp?.stop();
  await bind?.stop();
  for (const b of backends?.values() ?? []) await b.close();
});

describe.each(ADS_MODES)("IP family policies through Envoy (ADS %s)", (mode) => {
  let envoy: Envoy;
  beforeAll(async () => {
    envoy = await startEnvoy({ xdsPorts: [cp.xdsPort], ads: mode });
    await waitFor("Envoy to hold every cluster with a healthy v6-failover", 20_000, async () => {
      for (const p of POLICIES)
        if (((await envoy.hosts(clusterName(p))) ?? []).length === 0) return undefined;
      const f = (await envoy.hosts("v6-failover")) ?? [];
      return f.length === 3 && f.every((h) => h.edsHealth === "HEALTHY") ? true : undefined;
    });
  }, 60_000);
  afterAll(async () => {
    await envoy?.stop();
  });
  afterEach(() => backends.get(V6)?.setHealthy(true));

  it.each(POLICIES)("%s: Envoy shows the expected priorities and sends to priority 0 only", async (p) => {
    const hosts = (await envoy.hosts(clusterName(p))) ?? [];
    expect(Object.fromEntries(hosts.map((h) => [h.address, h.priority]))).toEqual(EXPECTED[p]);
    const p0 = Object.entries(EXPECTED[p])
      .filter(([, prio]) => prio === 0)
      .map(([a]) => a)
      .sort();
    const counts = await tally(4 * p0.length, () => envoy.get(clusterName(p)));
    expect([...counts.keys()].sort()).toEqual(p0);
    expect(await envoy.stat(`cluster.${clusterName(p)}.update_rejected`)).toBe(0);
  });

  it("V6_PREFERRED falls over to IPv4 when ::1 fails its health check, and back", async () => {
    expect([...(await tally(6, () => envoy.get("v6-failover"))).keys()]).toEqual([V6]);
    backends.get(V6)?.setHealthy(false);
    await waitFor("Envoy to see ::1 UNHEALTHY", 15_000, async () =>
      ((await envoy.hosts("v6-failover")) ?? []).find((h) => h.address === V6)?.edsHealth === "UNHEALTHY"
        ? true
        : undefined,
    );
    const over = await tally(20, () => envoy.get("v6-failover"));
    expect([...over.keys()].sort()).toEqual(V4);
    backends.get(V6)?.setHealthy(true);
    await waitFor("Envoy to see ::1 HEALTHY", 15_000, async () =>
      ((await envoy.hosts("v6-failover")) ?? []).find((h) => h.address === V6)?.edsHealth === "HEALTHY"
        ? true
        : undefined,
    );
    expect([...(await tally(6, () => envoy.get("v6-failover"))).keys()]).toEqual([V6]);
  });

  it("happy eyeballs: ::1 with 127.0.0.91 in additional_addresses is accepted and serves", async () => {
    const cla = JSON.stringify(await envoy.edsAssignment("happy-eyeballs"));
    expect(cla).toMatch(
      /"address":"::1"[^\]]*"additional_addresses":\[\{"address":\{"socket_address":\{"address":"127\.0\.0\.91"/,
    );
    expect(await envoy.stat("cluster.happy-eyeballs.update_rejected")).toBe(0);
    const hosts = (await envoy.hosts("happy-eyeballs")) ?? [];
    // The pair is one host (::1); 127.0.0.92 has no AAAA partner and stands alone at the IPv4 priority.
    expect(Object.fromEntries(hosts.map((h) => [h.address, h.priority]))).toEqual({
      [V6]: 0,
      [V4[1] as string]: 1,
    });
    expect([...(await tally(4, () => envoy.get("happy-eyeballs"))).keys()]).toEqual([V6]);
  });
});
