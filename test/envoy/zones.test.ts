/**
 * Envoy in the loop, zones (SotW, then Delta). A `zoneAware` cluster with two DNS sources on real BIND:
 * zone z-a (127.0.0.101–102) and zone z-b (127.0.0.103–104), HTTP health checks. Two Envoys whose nodes
 * say z-a and z-b each get their zone's variant: own zone at priority 0, the other at 1, and all their
 * traffic stays in their zone. When z-a's backends fail their checks, the z-a Envoy spills to z-b (the
 * z-b Envoy is unaffected), and comes back on recovery.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { type DnsEdsInstance, startDnsEds } from "../support/dns-eds-instance.js";
import { ADS_MODES, dumpEnvoyLogsOnFailure, type Envoy, startEnvoy, tally } from "../support/envoy.js";
import { freePortOnAll } from "../support/grpc-backends.js";
import { type HttpWho, startHttpWhos } from "../support/http-who-backend.js";
import { waitFor } from "../support/wait-for.js";

const ZA = ["127.0.0.101", "127.0.0.102"];
const ZB = ["127.0.0.103", "127.0.0.104"];
const ORIGIN = "envoy-zones.test";

let bind: BindServer;
let cp: DnsEdsInstance;
let backends: Map<string, HttpWho>;
let port = 0;

dumpEnvoyLogsOnFailure();

beforeAll(async () => {
  port = await freePortOnAll([...ZA, ...ZB]);
  backends = await startHttpWhos([...ZA, ...ZB], port);
  bind = await startBindServer({
    zones: [
      {
        origin: ORIGIN,
        records: [...ZA.map((h) => `a 5 IN A ${h}`), ...ZB.map((h) => `b 5 IN A ${h}`)].join("\n"),
      },
    ],
  });
  cp = await startDnsEds({
    dns: { servers: [bind.server], minTtl: 1, allowLoopback: true },
    clusters: [
      {
        name: "web",
        zoneAware: true,
        ipFamily: "V4_ONLY",
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
        sources: [
          { dns: { name: `a.${ORIGIN}`, port }, locality: { region: "r1", zone: "z-a" } },
          { dns: { name: `b.${ORIGIN}`, port }, locality: { region: "r1", zone: "z-b" } },
        ],
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  await cp?.stop();
  await bind?.stop();
  for (const b of backends?.values() ?? []) await b.close();
});

const priorities = async (envoy: Envoy) =>
  Object.fromEntries(
    ((await envoy.hosts("web")) ?? []).map((h) => [h.address, `${h.locality.zone}/${h.priority}`]),
  );

describe.each(ADS_MODES)("zone-aware assignments to two Envoys (ADS %s)", (mode) => {
  let ea: Envoy;
  let eb: Envoy;
  beforeAll(async () => {
    ea = await startEnvoy({ xdsPorts: [cp.xdsPort], ads: mode, locality: { region: "r1", zone: "z-a" } });
    eb = await startEnvoy({ xdsPorts: [cp.xdsPort], ads: mode, locality: { region: "r1", zone: "z-b" } });
    for (const e of [ea, eb]) {
      await waitFor("Envoy to hold 4 healthy hosts", 20_000, async () => {
        const h = (await e.hosts("web")) ?? [];
        return h.length === 4 && h.every((x) => x.edsHealth === "HEALTHY") ? true : undefined;
      });
    }
  }, 60_000);
  afterAll(async () => {
    await ea?.stop();
    await eb?.stop();
  });
  afterEach(() => {
    for (const b of backends.values()) b.setHealthy(true);
  });

  it("each Envoy gets its zone's variant: own zone at priority 0, and its traffic stays there", async () => {
    expect(await priorities(ea)).toEqual({
      [ZA[0] as string]: "z-a/0",
      [ZA[1] as string]: "z-a/0",
      [ZB[0] as string]: "z-b/1",
      [ZB[1] as string]: "z-b/1",
    });
    expect(await priorities(eb)).toEqual({
      [ZA[0] as string]: "z-a/1",
      [ZA[1] as string]: "z-a/1",
      [ZB[0] as string]: "z-b/0",
      [ZB[1] as string]: "z-b/0",
    });
    expect([...(await tally(20, () => ea.get("web"))).keys()].sort()).toEqual(ZA);
    expect([...(await tally(20, () => eb.get("web"))).keys()].sort()).toEqual(ZB);
  });

  it("traffic spills to the other zone when the own zone is unhealthy, and returns", async () => {
    for (const h of ZA) backends.get(h)?.setHealthy(false);
    await waitFor("the z-a Envoy to see z-a UNHEALTHY", 15_000, async () => {
      const h = ((await ea.hosts("web")) ?? []).filter((x) => ZA.includes(x.address));
      return h.length === 2 && h.every((x) => x.edsHealth === "UNHEALTHY") ? true : undefined;
    });
    expect([...(await tally(20, () => ea.get("web"))).keys()].sort()).toEqual(ZB);
    expect([...(await tally(20, () => eb.get("web"))).keys()].sort()).toEqual(ZB);

    for (const h of ZA) backends.get(h)?.setHealthy(true);
    await waitFor("the z-a Envoy to see z-a HEALTHY", 15_000, async () => {
      const h = ((await ea.hosts("web")) ?? []).filter((x) => ZA.includes(x.address));
      return h.length === 2 && h.every((x) => x.edsHealth === "HEALTHY") ? true : undefined;
    });
    expect([...(await tally(20, () => ea.get("web"))).keys()].sort()).toEqual(ZA);
    expect(await ea.stat("cluster.web.update_rejected")).toBe(0);
    expect(await eb.stat("cluster.web.update_rejected")).toBe(0);
  });
});
