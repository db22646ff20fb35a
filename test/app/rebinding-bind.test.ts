/**
 * Attack: a zone an attacker controls answers with the cloud metadata address and loopback (A, AAAA,
 * IPv4-mapped AAAA, and SRV targets with ports of its choosing), hoping dns-eds publishes them to every
 * proxy and health-checks them (a port-scan oracle). Real bind9 → the whole control plane as
 * `dns-eds serve` builds it. Nothing from the zone is published or probed; a cluster that opts out
 * gets loopback (and still not the metadata address).
 */
import { createServer, type Server } from "node:net";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AdminServer, startAdminServer } from "../../src/admin/admin-server.js";
import { createLogger } from "../../src/admin/logger.js";
import { createMetrics, type DnsEdsMetrics } from "../../src/admin/metrics.js";
import { type RunningControlPlane, startServer } from "../../src/app/serve.js";
import { parseConfigObject } from "../../src/config/load-config.js";
import type { ClusterLoadAssignment } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { freePortOnAll } from "../support/grpc-backends.js";
import { until, waitFor } from "../support/wait-for.js";

const ORIGIN = "rebind.test";

let bind: BindServer;
let app: RunningControlPlane;
let admin: AdminServer;
let metrics: DnsEdsMetrics;
/** Connections seen by the listeners the attacker points at, and by the opted-out cluster's backend. */
const accepted = { attacked: 0, optedOut: 0 };
const servers: Server[] = [];

async function listen(port: number, onConnection: () => void): Promise<void> {
  const s = createServer((sock) => {
    onConnection();
    sock.destroy();
  });
  await new Promise<void>((resolve, reject) => {
    s.once("error", reject);
    s.listen(port, "127.0.0.1", () => resolve());
  });
  servers.push(s);
}

// A generous timeout: a probe to loopback must not time out on a loaded box, since the test reads any
// failed probe as one that went to the metadata address.
const hc = { type: "tcp", intervalMs: 300, timeoutMs: 300, healthyThreshold: 1, unhealthyThreshold: 1 };

beforeAll(async () => {
  const attackedPort = await freePortOnAll(["127.0.0.1"]);
  await listen(attackedPort, () => accepted.attacked++);
  const okPort = await freePortOnAll(["127.0.0.1"]);
  await listen(okPort, () => accepted.optedOut++);
  bind = await startBindServer({
    zones: [
      {
        origin: ORIGIN,
        records: [
          "evil 1 IN A 169.254.169.254",
          "evil 1 IN A 127.0.0.1",
          "evil 1 IN AAAA ::1",
          "evil 1 IN AAAA ::ffff:127.0.0.1",
          "evil 1 IN AAAA ::ffff:169.254.169.254",
          `_scan._tcp.evilsrv 1 IN SRV 0 1 ${attackedPort} t1`,
          "_scan._tcp.evilsrv 1 IN SRV 0 1 80 t2",
          "t1 1 IN A 127.0.0.1",
          "t2 1 IN A 169.254.169.254",
          "local 1 IN A 127.0.0.1",
          "local 1 IN A 169.254.169.254",
        ].join("\n"),
      },
    ],
  });
  metrics = createMetrics({ processMetrics: false });
  const config = parseConfigObject({
    xds: { listen: "127.0.0.1:0", limits: { debounceMs: 20 } },
    admin: { listen: "127.0.0.1:0" },
    // No allowLoopback: the product default.
    dns: { servers: [bind.server], timeoutMs: 300, attempts: 2, minTtl: 1 },
    clusters: [
      { name: "evil", dns: { name: `evil.${ORIGIN}`, port: attackedPort }, ipFamily: "ALL", healthCheck: hc },
      { name: "evil-srv", srv: { name: `_scan._tcp.evilsrv.${ORIGIN}` }, ipFamily: "ALL", healthCheck: hc },
      {
        name: "local",
        dns: { name: `local.${ORIGIN}`, port: okPort },
        ipFamily: "V4_ONLY",
        allowLoopback: true,
        healthCheck: hc,
      },
    ],
  });
  const logger = createLogger({ level: "silent", destination: process.stdout });
  app = await startServer(config, { logger, metrics });
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
  for (const s of servers) s.close();
});

interface ClustersJson {
  clusters: Array<{
    name: string;
    endpoints: Array<{ address: string; port: number }>;
    inputNotes?: string[];
  }>;
}
const clusters = async () =>
  ((await (await fetch(`${admin.url}/clusters?format=json`)).json()) as ClustersJson).clusters;

describe("a hostile zone answering loopback and metadata addresses", () => {
  it("gets nothing published and nothing probed; the opted-out cluster gets loopback only", async () => {
    await waitFor("every cluster resolved once", 20_000, async () => {
      const r = await fetch(`${admin.url}/readyz`);
      return r.status === 200 ? true : undefined;
    });
    // The opted-out cluster is probed: health checks run, so a probe to the others would have happened too.
    await until(() => accepted.optedOut >= 3, 10_000, "three probes of the opted-out cluster");
    const view = await clusters();
    const byName = new Map(view.map((c) => [c.name, c]));
    expect(byName.get("evil")?.endpoints).toEqual([]);
    expect(byName.get("evil-srv")?.endpoints).toEqual([]);
    expect(byName.get("local")?.endpoints.map((e) => e.address)).toEqual(["127.0.0.1"]);
    expect(accepted.attacked).toBe(0);

    // What the proxies get: empty assignments for the attacked clusters (read from the served store).
    const cla = (name: string) =>
      app.store.get(TYPE_URLS.endpoint, name)?.resource as ClusterLoadAssignment | undefined;
    const count = (name: string) => (cla(name)?.endpoints ?? []).flatMap((e) => e.lbEndpoints).length;
    expect(count("evil")).toBe(0);
    expect(count("evil-srv")).toBe(0);
    expect(count("local")).toBe(1);
    const dump = await (await fetch(`${admin.url}/config_dump`)).text();
    expect(dump).toContain("127.0.0.1");
    expect(dump).not.toContain("169.254.169.254");

    // Every probe that ran succeeded: none went to 169.254.169.254 (it would time out or fail).
    const text = await (await fetch(`${admin.url}/metrics`)).text();
    const outcomes = [...text.matchAll(/^dnseds_health_checks_total\{outcome="([^"]+)"\} (\d+)/gm)];
    expect(outcomes.length).toBeGreaterThan(0);
    expect(outcomes.map((m) => m[1])).toEqual(["ok"]);

    // The page and the metric say what was held back, and why.
    const evil = byName.get("evil")?.inputNotes?.join("\n") ?? "";
    expect(evil).toContain("169.254.169.254 (metadata)");
    // The decoder prints IPv4-mapped AAAA records in hex; the note names the IPv4 address inside.
    expect(evil).toContain("::ffff:7f00:1 (loopback via 127.0.0.1)");
    expect(evil).toContain("::ffff:a9fe:a9fe (metadata via 169.254.169.254)");
    expect(evil).toContain("::1 (loopback)");
    expect(evil).toContain("every address from dns:evil.rebind.test. was denied");
    expect(byName.get("evil-srv")?.inputNotes?.join("\n")).toContain("127.0.0.1 (loopback)");
    expect(byName.get("local")?.inputNotes?.join("\n")).toContain("169.254.169.254 (metadata)");
    expect(text).toMatch(/dnseds_input_held_back\{cluster="evil",kind="rebinding_denied"\} 5/);
    expect(text).toMatch(/dnseds_input_held_back\{cluster="evil-srv",kind="rebinding_denied"\} 2/);
    expect(accepted.attacked).toBe(0);
  }, 40_000);
});

describe("the guard on reload", () => {
  it("applies dns.allowLoopback live: loopback appears, and goes again when the opt-out is withdrawn", async () => {
    const base = app.reloads.current();
    const withLoopback = (allow: boolean) =>
      parseConfigObject({
        xds: { listen: "127.0.0.1:0", limits: { debounceMs: 20 } },
        admin: { listen: "127.0.0.1:0" },
        dns: { servers: [bind.server], timeoutMs: 300, attempts: 2, minTtl: 1, allowLoopback: allow },
        clusters: base.clusters.map((c) => ({
          name: c.name,
          ...(c.sources[0]?.kind === "dns"
            ? { dns: { name: c.sources[0].name, port: c.sources[0].port } }
            : { srv: { name: c.sources[0]?.kind === "srv" ? c.sources[0].name : "" } }),
          ipFamily: c.ipFamily,
          ...(c.name === "local" ? { allowLoopback: true } : {}),
          healthCheck: hc,
        })),
      });
    const report = await app.reload(withLoopback(true));
    expect(report.applied).toContain("dns.allowLoopback");
    expect(report.needsRestart).toEqual([]);
    await waitFor("loopback published for evil", 10_000, async () => {
      const evil = (await clusters()).find((c) => c.name === "evil");
      const addrs = (evil?.endpoints ?? []).map((e) => e.address).sort();
      return addrs.join(",") === "127.0.0.1,::1,::ffff:7f00:1" ? true : undefined;
    });
    const back = await app.reload(withLoopback(false));
    expect(back.applied).toContain("dns.allowLoopback");
    await waitFor("loopback withdrawn again", 10_000, async () => {
      const evil = (await clusters()).find((c) => c.name === "evil");
      return evil?.endpoints.length === 0 ? true : undefined;
    });
  }, 30_000);
});
