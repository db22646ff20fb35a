/**
 * Envoy in the loop, A/AAAA: a name with three A records (127.0.0.31–33) and one AAAA (::1) on real BIND,
 * dns-eds serving it with `ipFamily: ALL`, a real Envoy fetching CDS + EDS over ADS (SotW, then Delta).
 * Every endpoint gets traffic through the HTTP router and through a TCP proxy, and Envoy's admin shows
 * the four hosts at priority 0, healthy, with the DNS name as hostname, and zero rejected updates; a
 * second cluster on the same name with `endpointHostname: false` shows the same hosts without one.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { type DnsEdsInstance, startDnsEds } from "../support/dns-eds-instance.js";
import { ADS_MODES, dumpEnvoyLogsOnFailure, type Envoy, startEnvoy, tally } from "../support/envoy.js";
import { freePortOnAll } from "../support/grpc-backends.js";
import { type HttpWho, startHttpWhos } from "../support/http-who-backend.js";
import { waitFor } from "../support/wait-for.js";

const V4 = ["127.0.0.31", "127.0.0.32", "127.0.0.33"];
const ALL = [...V4, "::1"];
const ORIGIN = "envoy-a.test";

let bind: BindServer;
let cp: DnsEdsInstance;
let backends: Map<string, HttpWho>;
let port = 0;

dumpEnvoyLogsOnFailure();

beforeAll(async () => {
  port = await freePortOnAll(ALL);
  backends = await startHttpWhos(ALL, port);
  bind = await startBindServer({
    zones: [
      {
        origin: ORIGIN,
        records: [...V4.map((h) => `web 5 IN A ${h}`), "web 5 IN AAAA ::1"].join("\n"),
      },
    ],
  });
  cp = await startDnsEds({
    dns: { servers: [bind.server], minTtl: 1, allowLoopback: true },
    clusters: [
      { name: "web", dns: { name: `web.${ORIGIN}`, port }, ipFamily: "ALL" },
      // The same name, with the hostname left out of every endpoint.
      { name: "web-bare", dns: { name: `web.${ORIGIN}`, port }, ipFamily: "ALL", endpointHostname: false },
    ],
  });
}, 60_000);

afterAll(async () => {
  await cp?.stop();
  await bind?.stop();
  for (const b of backends?.values() ?? []) await b.close();
});

describe.each(ADS_MODES)("A/AAAA cluster through Envoy (ADS %s)", (mode) => {
  let envoy: Envoy;
  beforeAll(async () => {
    envoy = await startEnvoy({ xdsPorts: [cp.xdsPort], ads: mode, tcpProxies: ["web"] });
  }, 60_000);
  afterAll(async () => {
    await envoy?.stop();
  });

  it("shows every A and AAAA endpoint healthy at priority 0 and ACKs the cluster and assignment", async () => {
    const hosts = await waitFor("Envoy to hold 4 hosts for web", 20_000, async () => {
      const h = await envoy.hosts("web");
      return h && h.length === 4 ? h : undefined;
    });
    expect(hosts.map((h) => h.address).sort()).toEqual([...ALL].sort());
    for (const h of hosts) {
      expect(h.port).toBe(port);
      expect(h.priority).toBe(0);
      expect(h.edsHealth).toBe("HEALTHY");
      expect(h.flags).toEqual([]);
      expect(h.hostname).toBe(`web.${ORIGIN}`);
    }
    expect(await envoy.stat("cluster.web.update_success")).toBeGreaterThanOrEqual(1);
    expect(await envoy.stat("cluster.web.update_rejected")).toBe(0);
    expect(await envoy.stat("cluster_manager.cds.update_rejected")).toBe(0);
    expect(await envoy.ready()).toBe(true);
    // What Envoy holds is what dns-eds serves: the dumped assignment lists the same four addresses.
    const cla = JSON.stringify(await envoy.edsAssignment("web"));
    for (const a of ALL) expect(cla).toContain(`"address":"${a}"`);
  });

  it("shows the same four hosts without a hostname for a cluster with endpointHostname: false", async () => {
    const hosts = await waitFor("Envoy to hold 4 hosts for web-bare", 20_000, async () => {
      const h = await envoy.hosts("web-bare");
      return h && h.length === 4 ? h : undefined;
    });
    expect(hosts.map((h) => h.address).sort()).toEqual([...ALL].sort());
    for (const h of hosts) expect(h.hostname).toBe("");
    expect(await envoy.stat("cluster.web-bare.update_rejected")).toBe(0);
  });

  it("spreads HTTP requests over all four endpoints (round robin: 40 requests, each gets 10 ± 3)", async () => {
    const counts = await tally(40, () => envoy.get("web"));
    expect([...counts.keys()].sort()).toEqual([...ALL].sort());
    // Round robin over four equal hosts with one worker thread: each gets a quarter, give or take a
    // few for the rotation's starting point and any concurrent health of the picker.
    for (const n of counts.values()) expect(Math.abs(n - 10)).toBeLessThanOrEqual(3);
  });

  it("spreads TCP-proxied connections over all four endpoints", async () => {
    const counts = await tally(24, () => envoy.tcpGet("web"));
    expect([...counts.keys()].sort()).toEqual([...ALL].sort());
  });
});
