/**
 * Envoy in the loop, DNS changes (SotW, then Delta). BIND serves `web` with a 1 s TTL; dns-eds
 * (minTtl 1, drainMs 3,000) follows it and pushes to Envoy:
 * - an added A record gets traffic within TTL + push (bounded at 10 s: 1 s TTL, refresh-ahead, 20 ms
 *   debounce, one push; the bound leaves room for a loaded box);
 * - a removed record is DRAINING in Envoy (and on dns-eds' /clusters) and gets no new requests while
 *   the others keep serving;
 * - it is gone from Envoy after drainMs (3 s) — not before 3 s after it was first seen draining minus the
 *   TTL slack, and within 3 s + 10 s.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { type DnsEdsInstance, startDnsEds } from "../support/dns-eds-instance.js";
import { ADS_MODES, dumpEnvoyLogsOnFailure, type Envoy, startEnvoy, tally } from "../support/envoy.js";
import { freePortOnAll } from "../support/grpc-backends.js";
import { type HttpWho, startHttpWhos } from "../support/http-who-backend.js";
import { waitFor } from "../support/wait-for.js";

const HOSTS = ["127.0.0.51", "127.0.0.52", "127.0.0.53", "127.0.0.54"];
const ORIGIN = "envoy-dns.test";
const DRAIN_MS = 3_000;

let bind: BindServer;
let cp: DnsEdsInstance;
let backends: Map<string, HttpWho>;
let port = 0;

dumpEnvoyLogsOnFailure();

const zone = (hosts: readonly string[]) => ({
  origin: ORIGIN,
  records: hosts.map((h) => `web 1 IN A ${h}`).join("\n"),
  negativeTtl: 1,
});

beforeAll(async () => {
  port = await freePortOnAll(HOSTS);
  backends = await startHttpWhos(HOSTS, port);
  bind = await startBindServer({ zones: [zone(HOSTS.slice(0, 2))] });
  cp = await startDnsEds({
    dns: { servers: [bind.server], minTtl: 1, allowLoopback: true },
    clusters: [{ name: "web", dns: { name: `web.${ORIGIN}`, port }, ipFamily: "V4_ONLY", drainMs: DRAIN_MS }],
  });
}, 60_000);

afterAll(async () => {
  await cp?.stop();
  await bind?.stop();
  for (const b of backends?.values() ?? []) await b.close();
});

describe.each(ADS_MODES)("DNS add and remove through Envoy (ADS %s)", (mode) => {
  let envoy: Envoy;
  const [h1, h2, h3] = HOSTS as [string, string, string, string];
  beforeAll(async () => {
    await bind.setZone(zone([h1, h2]));
    envoy = await startEnvoy({ xdsPorts: [cp.xdsPort], ads: mode });
    await waitFor("Envoy to hold exactly h1 and h2", 20_000, async () => {
      const h = await envoy.hosts("web");
      return h
        ?.map((x) => x.address)
        .sort()
        .join() === [h1, h2].join()
        ? true
        : undefined;
    });
  }, 60_000);
  afterAll(async () => {
    await envoy?.stop();
  });

  it("an added A record gets traffic within TTL + push", async () => {
    const t0 = Date.now();
    await bind.setZone(zone([h1, h2, h3]));
    await waitFor("traffic to reach the added host", 10_000, async () =>
      (await tally(9, () => envoy.get("web"))).has(h3) ? true : undefined,
    );
    expect(Date.now() - t0).toBeLessThan(10_000);
    const counts = await tally(30, () => envoy.get("web"));
    expect([...counts.keys()].sort()).toEqual([h1, h2, h3]);
  });

  it("a removed record drains (DRAINING in Envoy, no new requests) and is gone after drainMs", async () => {
    await bind.setZone(zone([h1, h2]));
    const drainingSince = await waitFor("Envoy to show h3 DRAINING", 10_000, async () => {
      const h = (await envoy.hosts("web"))?.find((x) => x.address === h3);
      return h?.edsHealth === "DRAINING" ? Date.now() : undefined;
    });
    const page = JSON.stringify(await cp.adminJson("/clusters?format=json"));
    expect(page).toMatch(/"address":"127\.0\.0\.53"[^}]*"health":"DRAINING"/);

    const before = backends.get(h3)?.hits ?? 0;
    const counts = await tally(20, () => envoy.get("web"));
    expect(counts.has(h3)).toBe(false);
    expect([...counts.keys()].sort()).toEqual([h1, h2]);
    expect(backends.get(h3)?.hits).toBe(before);

    const goneAt = await waitFor("h3 to leave Envoy after drainMs", DRAIN_MS + 10_000, async () => {
      const h = await envoy.hosts("web");
      return h && !h.some((x) => x.address === h3) ? Date.now() : undefined;
    });
    // Seen draining up to one poll (100 ms) + one push after dns-eds started the drain timer.
    expect(goneAt - drainingSince).toBeGreaterThanOrEqual(DRAIN_MS - 1_000);
    expect(await envoy.stat("cluster.web.update_rejected")).toBe(0);
  });
});
