/**
 * Attack (or plain breakage): one SRV target whose follow-up lookup fails. It used to fail the whole
 * SRV lookup, so the cache kept serving the old SRV answer and every target froze on stale data (a
 * zone could pin a cluster by adding one broken target). Real bind9, which refuses the target outside
 * its zone: the other targets are served, the failure is marked, and later changes still arrive.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AdminServer, startAdminServer } from "../../src/admin/admin-server.js";
import { createLogger } from "../../src/admin/logger.js";
import { createMetrics } from "../../src/admin/metrics.js";
import { type RunningControlPlane, startServer } from "../../src/app/serve.js";
import { parseConfigObject } from "../../src/config/load-config.js";
import { createResolver } from "../../src/dns/resolver.js";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { waitFor } from "../support/wait-for.js";

const ORIGIN = "srvfail.test";
const zone = (extra: string[] = []) => ({
  origin: ORIGIN,
  records: [
    "_h._tcp.svc 1 IN SRV 0 1 8080 t1",
    // Outside every zone bind serves (recursion off): its follow-up is REFUSED.
    "_h._tcp.svc 1 IN SRV 0 1 8080 t2.elsewhere.test.",
    "t1 1 IN A 127.0.0.71",
    ...extra,
  ].join("\n"),
});

let bind: BindServer;
let app: RunningControlPlane;
let admin: AdminServer;

beforeAll(async () => {
  bind = await startBindServer({ zones: [zone()] });
  const metrics = createMetrics({ processMetrics: false });
  app = await startServer(
    parseConfigObject({
      xds: { listen: "127.0.0.1:0", limits: { debounceMs: 20 } },
      admin: { listen: "127.0.0.1:0" },
      dns: { servers: [bind.server], timeoutMs: 300, attempts: 1, minTtl: 1, allowLoopback: true },
      clusters: [{ name: "svc", srv: { name: `_h._tcp.svc.${ORIGIN}` }, ipFamily: "V4_ONLY", drainMs: 0 }],
    }),
    { logger: createLogger({ level: "silent" }), metrics },
  );
  admin = await startAdminServer({
    listen: "127.0.0.1:0",
    registry: metrics.registry,
    ...app.adminProviders,
  });
}, 60_000);

afterAll(async () => {
  await admin?.close();
  await app?.stop();
  await bind?.stop();
});

interface View {
  name: string;
  endpoints: Array<{ address: string }>;
  inputNotes?: string[];
  error?: string;
}
const view = async (): Promise<View | undefined> =>
  ((await (await fetch(`${admin.url}/clusters?format=json`)).json()) as { clusters: View[] }).clusters.find(
    (c) => c.name === "svc",
  );

describe("an SRV target whose lookup fails", () => {
  it("leaves the SRV lookup standing, with the failed target named", async () => {
    const dns = createResolver({ servers: [bind.server], timeoutMs: 300, attempts: 1 });
    try {
      const a = await dns.resolve(`_h._tcp.svc.${ORIGIN}`, "SRV");
      expect(a.targets?.get(`t1.${ORIGIN}.`)?.a.map((r) => (r.type === "A" ? r.address : ""))).toEqual([
        "127.0.0.71",
      ]);
      expect(a.targetErrors?.get("t2.elsewhere.test.")).toMatch(/REFUSED/);
    } finally {
      await dns.close();
    }
  });

  it("serves the other targets, marks the failure, and still follows the zone", async () => {
    const first = await waitFor("t1 published", 15_000, async () => {
      const v = await view();
      return v?.endpoints.map((e) => e.address).join() === "127.0.0.71" ? v : undefined;
    });
    expect(first.inputNotes?.join("\n")).toMatch(/lookup of t2\.elsewhere\.test\. \(ERR_DNS_REFUSED/);
    // A new target while t2 still fails: it arrives (the cluster is not frozen on the old answer).
    await bind.setZone(zone(["_h._tcp.svc 1 IN SRV 0 1 8080 t3", "t3 1 IN A 127.0.0.72"]));
    await waitFor("t3 published too", 15_000, async () => {
      const v = await view();
      return v?.endpoints
        .map((e) => e.address)
        .sort()
        .join() === "127.0.0.71,127.0.0.72"
        ? true
        : undefined;
    });
  }, 40_000);
});
