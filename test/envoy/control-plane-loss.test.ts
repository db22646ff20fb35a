/**
 * Envoy in the loop, control-plane loss (SotW, then Delta). dns-eds runs as `dns-eds serve` child
 * processes (SIGKILL, like a crash), two replicas sharing one real etcd; BIND serves the names.
 * - kill every replica: Envoy keeps serving the last endpoints (no staleAfterMs: nothing is emptied,
 *   measured over 3 × the stale time of the opt-in cluster);
 * - with `staleAfterMs` (3 s) on another cluster: while dns-eds is up, the re-sends keep Envoy's timer
 *   from firing across 3 × 3 s; once dns-eds is gone Envoy empties that cluster after ~3 s and counts
 *   `assignment_stale`;
 * - restart: Envoy reconnects and converges (a DNS change made while dns-eds was down arrives);
 * - an Envoy moved from one replica to the other (its replica killed) sees no CDS/EDS rebuild:
 *   `update_no_rebuild` rises or `update_success` does not, no cluster is added or modified, and the
 *   hosts stay the same.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { ADS_MODES, dumpEnvoyLogsOnFailure, type Envoy, startEnvoy, tally } from "../support/envoy.js";
import { type DnsEdsProcess, startDnsEdsProcess } from "../support/envoy-dns-eds-process.js";
import { type EtcdServer, startEtcd } from "../support/etcd-server.js";
import { freePortOnAll } from "../support/grpc-backends.js";
import { type HttpWho, startHttpWhos } from "../support/http-who-backend.js";
import { waitFor } from "../support/wait-for.js";

const HOSTS = ["127.0.0.61", "127.0.0.62", "127.0.0.63"];
const ORIGIN = "envoy-cp.test";
const STALE_MS = 3_000;

let bind: BindServer;
let etcd: EtcdServer;
let backends: Map<string, HttpWho>;
let port = 0;
const replicas: DnsEdsProcess[] = [];

dumpEnvoyLogsOnFailure();

const zone = (hosts: readonly string[]) => ({
  origin: ORIGIN,
  records: [...hosts.map((h) => `web 1 IN A ${h}`), ...hosts.map((h) => `fresh 1 IN A ${h}`)].join("\n"),
  negativeTtl: 1,
});

const addresses = async (envoy: Envoy, cluster: string) =>
  ((await envoy.hosts(cluster)) ?? []).map((h) => h.address).sort();

beforeAll(async () => {
  port = await freePortOnAll(HOSTS);
  backends = await startHttpWhos(HOSTS, port);
  bind = await startBindServer({ zones: [zone(HOSTS.slice(0, 2))] });
  etcd = await startEtcd();
  const config = {
    dns: { servers: [bind.server], minTtl: 1, allowLoopback: true },
    cache: { etcd: { endpoints: etcd.endpoints, prefix: "/envoy-cp/" } },
    clusters: [
      { name: "web", dns: { name: `web.${ORIGIN}`, port }, ipFamily: "V4_ONLY", drainMs: 0 },
      {
        name: "fresh",
        dns: { name: `fresh.${ORIGIN}`, port },
        ipFamily: "V4_ONLY",
        drainMs: 0,
        staleAfterMs: STALE_MS,
      },
    ],
  };
  replicas.push(await startDnsEdsProcess(config), await startDnsEdsProcess(config));
}, 90_000);

afterAll(async () => {
  for (const r of replicas) await r.stop();
  await etcd?.close();
  await bind?.stop();
  for (const b of backends?.values() ?? []) await b.close();
});

/** The replica this Envoy's ADS stream is on (the only client here, so the one with a stream). */
async function replicaOf(): Promise<number> {
  return waitFor("Envoy's ADS stream to show on a replica", 10_000, async () => {
    for (const [i, r] of replicas.entries()) {
      if (r.running() && (await r.metric("dnseds_xds_streams")) > 0) return i;
    }
    return undefined;
  });
}

describe.each(ADS_MODES)("control-plane loss with Envoy (ADS %s)", (mode) => {
  let envoy: Envoy;
  beforeAll(async () => {
    for (const r of replicas) await r.start();
    await bind.setZone(zone(HOSTS.slice(0, 2)));
    // Replicas converge on a DNS change independently (each within TTL + refresh); wait for both, so the
    // replica Envoy moves to later holds the same state as the one it starts on.
    for (const r of replicas) {
      await waitFor("every replica to serve 2 hosts for web and fresh", 20_000, async () => {
        const page = (await r.adminJson("/clusters?format=json")) as {
          clusters?: Array<{ name: string; endpoints: unknown[] }>;
        };
        const n = (c: string) => page.clusters?.find((x) => x.name === c)?.endpoints.length;
        return n("web") === 2 && n("fresh") === 2 ? true : undefined;
      });
    }
    envoy = await startEnvoy({ xdsPorts: replicas.map((r) => r.xdsPort), ads: mode });
    for (const c of ["web", "fresh"]) {
      await waitFor(`Envoy to hold 2 hosts for ${c}`, 20_000, async () =>
        (await addresses(envoy, c)).length === 2 ? true : undefined,
      );
    }
  }, 90_000);
  afterAll(async () => {
    await envoy?.stop();
  });

  it("moving to the other replica rebuilds nothing: same versions, no cluster added or modified", async () => {
    const on = await replicaOf();
    const other = 1 - on;
    const cds = await envoy.cdsClusters();
    const before = {
      noRebuild: await envoy.stat("cluster.web.update_no_rebuild"),
      success: await envoy.stat("cluster.web.update_success"),
      added: await envoy.stat("cluster_manager.cluster_added"),
      modified: await envoy.stat("cluster_manager.cluster_modified"),
    };
    await replicas[on]?.kill();
    await waitFor("Envoy's stream to land on the other replica", 15_000, async () =>
      (await (replicas[other] as DnsEdsProcess).metric("dnseds_xds_streams")) > 0 ? true : undefined,
    );
    await waitFor("Envoy to be connected again", 10_000, async () =>
      (await envoy.stat("control_plane.connected_state")) === 1 ? true : undefined,
    );
    // The other replica answered the resubscription (SotW re-sends; Delta sends only what differs from
    // initial_resource_versions, which is nothing). Either way no cluster is rebuilt.
    const after = {
      noRebuild: await envoy.stat("cluster.web.update_no_rebuild"),
      success: await envoy.stat("cluster.web.update_success"),
      added: await envoy.stat("cluster_manager.cluster_added"),
      modified: await envoy.stat("cluster_manager.cluster_modified"),
    };
    expect(after.noRebuild > before.noRebuild || after.success === before.success).toBe(true);
    expect(after.added).toBe(before.added);
    expect(after.modified).toBe(before.modified);
    const cdsAfter = await envoy.cdsClusters();
    expect(cdsAfter.get("web")?.version).toBe(cds.get("web")?.version);
    expect(cdsAfter.get("web")?.lastUpdated).toBe(cds.get("web")?.lastUpdated);
    expect(await addresses(envoy, "web")).toEqual(HOSTS.slice(0, 2));
    await replicas[on]?.start();
  });

  it("staleAfterMs: while dns-eds is up, re-sends keep Envoy's timer from firing (3 × 3 s)", async () => {
    const stale0 = await envoy.stat("cluster.fresh.assignment_stale");
    const received0 = await envoy.stat("cluster.fresh.assignment_timeout_received");
    const t0 = Date.now();
    // Polled for 3 × STALE_MS (bounded: at most 200 polls); a firing would empty the cluster and bump
    // assignment_stale.
    for (let i = 0; i < 200 && Date.now() - t0 < 3 * STALE_MS; i++) {
      expect(await envoy.stat("cluster.fresh.assignment_stale")).toBe(stale0);
      expect(await addresses(envoy, "fresh")).toEqual(HOSTS.slice(0, 2));
      await new Promise((r) => setTimeout(r, 100));
    }
    expect(Date.now() - t0).toBeGreaterThanOrEqual(3 * STALE_MS);
    // Each re-send is an accepted assignment carrying the timer (one per third of STALE_MS expected).
    expect(await envoy.stat("cluster.fresh.assignment_timeout_received")).toBeGreaterThanOrEqual(
      received0 + 3,
    );
    expect(await envoy.stat("cluster.fresh.update_rejected")).toBe(0);
  });

  it("kill dns-eds: Envoy keeps serving web, empties only the staleAfterMs cluster; restart converges", async () => {
    const stale0 = await envoy.stat("cluster.fresh.assignment_stale");
    const webStale0 = await envoy.stat("cluster.web.assignment_stale");
    for (const r of replicas) await r.kill();
    const killedAt = Date.now();
    await waitFor("Envoy to see the control plane gone", 10_000, async () =>
      (await envoy.stat("control_plane.connected_state")) === 0 ? true : undefined,
    );
    const emptiedAt = await waitFor("Envoy to empty fresh after staleAfterMs", STALE_MS + 10_000, async () =>
      (await addresses(envoy, "fresh")).length === 0 ? Date.now() : undefined,
    );
    // The last re-send came about a third of STALE_MS before the kill (less under load): the cluster is
    // emptied by Envoy's timer, not at once.
    expect(emptiedAt - killedAt).toBeGreaterThanOrEqual(STALE_MS / 3);
    expect(await envoy.stat("cluster.fresh.assignment_stale")).toBe(stale0 + 1);
    const r = await envoy.request("fresh");
    expect(r.status).toBe(503);

    // web has no staleAfterMs: nothing is emptied, however long dns-eds is away (3 × STALE_MS here).
    for (let i = 0; i < 100 && Date.now() - killedAt < 3 * STALE_MS; i++) {
      const counts = await tally(6, () => envoy.get("web"));
      expect([...counts.keys()].sort()).toEqual(HOSTS.slice(0, 2));
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(await envoy.stat("cluster.web.assignment_stale")).toBe(webStale0);

    // DNS changes while dns-eds is down; on restart Envoy reconnects and converges on the new state.
    await bind.setZone(zone(HOSTS));
    for (const rep of replicas) await rep.start();
    await waitFor("Envoy to converge on three hosts for web and fresh", 20_000, async () =>
      (await addresses(envoy, "web")).length === 3 && (await addresses(envoy, "fresh")).length === 3
        ? true
        : undefined,
    );
    const counts = await tally(30, () => envoy.get("web"));
    expect([...counts.keys()].sort()).toEqual(HOSTS);
    expect(await envoy.stat("control_plane.connected_state")).toBe(1);
  });
});
