/**
 * What an operator sees of the fleet, from one replica with raw xDS clients in each state: `dns-eds
 * status` (rows like istioctl proxy-status, one client in detail with its NACK message, JSON), the
 * `/clients` admin page (text, JSON, HTML with NACKs in red and links to /clusters) and the
 * client-state gauges (SYNCED, STALE, STALE over 30 s, NACKED per type) the alert is written on.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AdminServer, startAdminServer } from "../../src/admin/admin-server.js";
import { type ClientRow, clientRows } from "../../src/admin/clients-page.js";
import { createMetrics, type DnsEdsMetrics } from "../../src/admin/metrics.js";
import { buildProgram } from "../../src/cli/program.js";
import { clientConfigs } from "../../src/xds/client-status.js";
import { countClientStates } from "../../src/xds/client-summary.js";
import type { ResourceStore } from "../../src/xds/resource-store.js";
import type { XdsServer } from "../../src/xds/server.js";
import { typeLabel } from "../../src/xds/type-urls.js";
import { until } from "../support/wait-for.js";
import { node, putCla, putCluster, startServer, T } from "../xds/harness.js";
import { RawXdsClient } from "../xds/raw-client.js";

let store: ResourceStore;
let server: XdsServer;
let port: number;
let admin: AdminServer;
let metrics: DnsEdsMetrics;
let now = Date.now();
const clients: RawXdsClient<"sotw">[] = [];

async function status(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  let code = -1;
  const program = await buildProgram({
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    exit: (c) => {
      code = c;
    },
  });
  program.exitOverride();
  await program.parseAsync(["node", "dns-eds", "status", ...args]);
  return { code, out, err };
}

beforeAll(async () => {
  ({ store, server, port } = await startServer());
  metrics = createMetrics({ processMetrics: false });
  // The clock the gauges see, so "STALE over 30 s" is reached without waiting 30 s.
  metrics.observeXdsClients(() => countClientStates(server.clients(), now, typeLabel));
  admin = await startAdminServer({
    listen: "127.0.0.1:0",
    registry: metrics.registry,
    clients: () => clientRows(clientConfigs(server.clients()), "replica-1", Date.now()),
  });

  putCluster(store, "fs-web");
  putCla(store, "fs-web", "10.5.0.1");
  // synced: ACKs everything.
  const good = new RawXdsClient("sotw", port);
  good.send({ node: node("fs-good", "zone-a"), typeUrl: T.cluster, resourceNames: [] });
  const gc = await good.next();
  good.send({ typeUrl: T.cluster, versionInfo: gc.versionInfo, responseNonce: gc.nonce });
  good.send({ typeUrl: T.endpoint, resourceNames: ["fs-web"] });
  const ge = await good.next();
  good.send({
    typeUrl: T.endpoint,
    resourceNames: ["fs-web"],
    versionInfo: ge.versionInfo,
    responseNonce: ge.nonce,
  });
  // slow: never answers its EDS response.
  const slow = new RawXdsClient("sotw", port);
  slow.send({ node: node("fs-slow", "zone-b"), typeUrl: T.endpoint, resourceNames: ["fs-web"] });
  await slow.next();
  // refuses: NACKs its EDS response with a message.
  const bad = new RawXdsClient("sotw", port);
  bad.send({ node: node("fs-bad", "zone-b"), typeUrl: T.endpoint, resourceNames: ["fs-web", "fs-later"] });
  const be = await bad.next();
  bad.send({
    typeUrl: T.endpoint,
    resourceNames: ["fs-web", "fs-later"],
    responseNonce: be.nonce,
    errorDetail: { code: 3, message: "cluster fs-web: <unsupported> locality weight" },
  });
  clients.push(good, slow, bad);
  await until(
    () => {
      const byId = new Map(server.clients().map((c) => [c.nodeId, c.resources.map((r) => r.status).join()]));
      return (
        byId.get("fs-good") === "SYNCED,SYNCED" &&
        byId.get("fs-slow") === "STALE" &&
        byId.get("fs-bad") === "NOT_SENT,ERROR"
      );
    },
    5_000,
    "three clients in their states",
  );
});

afterAll(async () => {
  for (const c of clients) c.close();
  await admin?.close();
  await server?.shutdown(1000);
});

describe("dns-eds status", () => {
  it("prints one row per client with each type's state and versions", async () => {
    const r = await status("-s", `127.0.0.1:${port}`);
    expect(r.code).toBe(0);
    const lines = r.out.trim().split("\n");
    expect(lines[0]).toMatch(/^CLIENT\s+LOCALITY\s+ADDRESS\s+REPLICA\s+CDS\s+EDS\s+LDS\s+RDS\s+VERSIONS$/);
    const row = (id: string) => lines.find((l) => l.startsWith(`${id} `)) ?? "";
    const eds = store.get(T.endpoint, "fs-web")?.version.slice(0, 8);
    expect(row("fs-good")).toMatch(
      new RegExp(
        `^fs-good\\s+r1/zone-a/\\s+\\S+:\\d+\\s+127\\.0\\.0\\.1:${port}\\s+SYNCED\\s+SYNCED\\s+-\\s+-\\s+cds=\\w{8} eds=${eds}$`,
      ),
    );
    expect(row("fs-slow")).toMatch(/\s-\s+STALE\(\d+s\)\s+-\s+-\s+eds=\w{8}$/);
    expect(row("fs-bad")).toMatch(/\s-\s+NACKED\s+-\s+-\s+eds=-$/);
  });

  it("shows one client's resources with the NACK message; JSON for tools; unknown client exits 1", async () => {
    const r = await status("fs-bad", "-s", `127.0.0.1:${port}`);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`client fs-bad at `);
    expect(r.out).toMatch(/EDS\s+fs-later\s+NOT SENT\s+-/);
    expect(r.out).toMatch(/EDS\s+fs-web\s+ERROR/);
    expect(r.out).toContain(`NACK of EDS fs-web version ${store.get(T.endpoint, "fs-web")?.version}`);
    expect(r.out).toContain("cluster fs-web: <unsupported> locality weight");

    const j = await status("-s", `127.0.0.1:${port}`, "--output", "json");
    const parsed = JSON.parse(j.out) as { clients: ClientRow[]; errors: unknown[] };
    expect(parsed.errors).toEqual([]);
    const bad = parsed.clients.find((c) => c.id === "fs-bad");
    expect(bad?.types.EDS?.state).toBe("NACKED");
    expect(bad?.resources.find((x) => x.name === "fs-web")?.error?.detail).toContain("locality weight");

    const missing = await status("nobody", "-s", `127.0.0.1:${port}`);
    expect(missing.code).toBe(1);
    expect(missing.err).toContain("no client nobody");
  });

  it("filters by zone and names a replica that does not answer (exit 1)", async () => {
    const r = await status("-s", `127.0.0.1:${port}`, "--zone", "zone-b");
    expect(r.out).not.toContain("fs-good");
    expect(r.out).toContain("fs-slow");
    const down = await status("-s", `127.0.0.1:${port}`, "-s", "127.0.0.1:1", "--timeout", "1500");
    expect(down.code).toBe(1);
    expect(down.err).toContain("127.0.0.1:1: UNAVAILABLE");
    expect(down.out).toContain("fs-good"); // the replica that answered is still shown
  });
});

describe("/clients admin page", () => {
  it("text, JSON and HTML: NACKs in red with their message, EDS names linked to /clusters", async () => {
    const text = await (await fetch(`${admin.url}/clients`)).text();
    expect(text).toMatch(/fs-bad\s+r1\/zone-b\/\s+\S+\s+replica-1\s+-\s+NACKED/);
    const one = await (await fetch(`${admin.url}/clients?client=fs-bad`)).text();
    expect(one).toContain("<unsupported> locality weight");
    const json = (await (await fetch(`${admin.url}/clients?format=json`)).json()) as { clients: ClientRow[] };
    expect(json.clients.map((c) => c.id)).toEqual(["fs-bad", "fs-good", "fs-slow"]);
    const html = await (await fetch(`${admin.url}/clients`, { headers: { accept: "text/html" } })).text();
    expect(html).toContain('<td class="NACKED">NACKED</td>');
    expect(html).toContain('<tr class="ERROR"><td colspan=5 class="nack">NACK of version');
    expect(html).toContain("cluster fs-web: &lt;unsupported&gt; locality weight");
    expect(html).not.toContain("<unsupported>");
    expect(html).toContain('<a href="/clusters?format=html#cluster-fs-web">fs-web</a>');
  });
});

describe("client-state gauges", () => {
  const gauge = async (type: string, state: string) => {
    const text = await metrics.registry.metrics();
    const m = text.match(new RegExp(`^dnseds_xds_clients\\{type="${type}",state="${state}"\\} (\\d+)$`, "m"));
    return Number(m?.[1] ?? Number.NaN);
  };

  it("counts clients SYNCED, STALE (and over 30 s) and NACKED per type", async () => {
    now = Date.now();
    expect(await gauge("eds", "synced")).toBe(1);
    expect(await gauge("eds", "stale")).toBe(1);
    expect(await gauge("eds", "stale_over_30s")).toBe(0);
    expect(await gauge("eds", "nacked")).toBe(1);
    expect(await gauge("cds", "synced")).toBe(1);
    expect(await gauge("lds", "synced")).toBe(0);
    now = Date.now() + 31_000;
    expect(await gauge("eds", "stale")).toBe(0);
    expect(await gauge("eds", "stale_over_30s")).toBe(1);
  });
});
