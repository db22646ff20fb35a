/**
 * CSDS with a real Envoy (1.40, ADS SotW and Delta) as the client: SYNCED once Envoy ACKs the cluster
 * and its assignment, NOT_SENT for an EDS name Envoy asks for that does not exist (a static EDS cluster
 * in its bootstrap), ERROR with Envoy's own message when it refuses an assignment (a host name where
 * EDS needs an IP; published through a store with validation off, since dns-eds would never serve it),
 * and STALE while Envoy is stopped (SIGSTOP) with a new assignment sent to it, SYNCED after SIGCONT.
 * Envoy's own counters confirm each step (update_success, update_rejected).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fetchClientStatus } from "../../src/cli/csds-client.js";
import { type ClientConfig, ConfigStatus } from "../../src/gen/envoy/service/status/v3/csds_pb.js";
import { clusterLoadAssignment, edsCluster } from "../../src/xds/resource-builders.js";
import { ResourceStore } from "../../src/xds/resource-store.js";
import { createXdsServer, type XdsServer } from "../../src/xds/server.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";
import { ADS_MODES, dumpEnvoyLogsOnFailure, type Envoy, startEnvoy } from "../support/envoy.js";
import { waitFor } from "../support/wait-for.js";

dumpEnvoyLogsOnFailure();

const cla = (address: string) =>
  clusterLoadAssignment("web", [{ zone: "z1", endpoints: [{ address, port: 9 }] }]);

describe.each(ADS_MODES)("CSDS with Envoy (ADS %s)", (mode) => {
  let store: ResourceStore;
  let server: XdsServer;
  let port: number;
  let envoy: Envoy;
  const nodeId = `csds-envoy-${mode}`;

  beforeAll(async () => {
    store = new ResourceStore({ skipValidation: true });
    store.publish({
      upsert: [
        { typeUrl: TYPE_URLS.endpoint, name: "web", resource: cla("127.0.0.41") },
        { typeUrl: TYPE_URLS.cluster, name: "web", resource: edsCluster("web") },
      ],
    });
    server = createXdsServer({ store });
    port = await server.listen("127.0.0.1:0");
    envoy = await startEnvoy({
      xdsPorts: [port],
      ads: mode,
      nodeId,
      locality: { region: "r1", zone: "envoy-zone" },
      // SotW cannot say "does not exist": Envoy waits initial_fetch_timeout for it before CDS starts.
      staticClusters: [
        {
          name: "later",
          type: "EDS",
          connect_timeout: "1s",
          eds_cluster_config: {
            service_name: "later",
            eds_config: { ads: {}, resource_api_version: "V3", initial_fetch_timeout: "1s" },
          },
        },
      ],
    });
  }, 60_000);

  afterAll(async () => {
    if (envoy?.running()) process.kill(envoy.pid, "SIGCONT");
    await envoy?.stop();
    await server?.shutdown(1000);
  });

  const envoyClient = async (): Promise<ClientConfig | undefined> => {
    const res = await fetchClientStatus(`127.0.0.1:${port}`);
    return res.config.find((c) => c.node?.id === nodeId);
  };
  const state = (c: ClientConfig | undefined, typeUrl: string, name: string) =>
    c?.genericXdsConfigs.find((g) => g.typeUrl === typeUrl && g.name === name);
  const waitState = (typeUrl: string, name: string, want: ConfigStatus, what: string) =>
    waitFor(what, 20_000, async () => {
      const g = state(await envoyClient(), typeUrl, name);
      return g?.configStatus === want ? g : undefined;
    });

  it("SYNCED after Envoy ACKs the cluster and its assignment; NOT_SENT for an EDS name that does not exist", async () => {
    const cds = await waitState(TYPE_URLS.cluster, "web", ConfigStatus.SYNCED, "CDS web SYNCED");
    const eds = await waitState(TYPE_URLS.endpoint, "web", ConfigStatus.SYNCED, "EDS web SYNCED");
    expect(cds.versionInfo).toBe(store.get(TYPE_URLS.cluster, "web")?.version);
    expect(eds.versionInfo).toBe(store.get(TYPE_URLS.endpoint, "web")?.version);
    expect(eds.lastUpdated).toBeDefined();
    const later = await waitState(TYPE_URLS.endpoint, "later", ConfigStatus.NOT_SENT, "EDS later NOT_SENT");
    expect(later.versionInfo).toBe("");
    expect(await envoy.stat("cluster.web.update_success")).toBeGreaterThanOrEqual(1);
    const c = await envoyClient();
    expect(c?.node?.locality?.zone).toBe("envoy-zone");
    expect(c?.node?.userAgentName).toBe("envoy");
    const streams = (c?.node?.metadata as { dns_eds?: { streams?: string[] } } | undefined)?.dns_eds?.streams;
    expect(streams).toEqual([mode === "sotw" ? "ads-sotw" : "ads-delta"]);
  }, 30_000);

  it("ERROR with Envoy's message when it refuses an assignment; it still holds the last good version", async () => {
    const good = store.get(TYPE_URLS.endpoint, "web")?.version;
    store.publish({
      upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "web", resource: cla("not-an-ip.example") }],
    });
    const bad = store.get(TYPE_URLS.endpoint, "web")?.version;
    const g = await waitState(TYPE_URLS.endpoint, "web", ConfigStatus.ERROR, "EDS web ERROR");
    expect(g.versionInfo).toBe(good);
    expect(g.errorState?.versionInfo).toBe(bad);
    expect(g.errorState?.details).toMatch(/not-an-ip\.example/);
    expect(g.errorState?.lastUpdateAttempt).toBeDefined();
    expect(await envoy.stat("cluster.web.update_rejected")).toBeGreaterThanOrEqual(1);
  }, 30_000);

  it("STALE while Envoy is stopped with a new assignment in flight, SYNCED once it runs again", async () => {
    process.kill(envoy.pid, "SIGSTOP");
    try {
      store.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "web", resource: cla("127.0.0.42") }] });
      const want = store.get(TYPE_URLS.endpoint, "web")?.version;
      const g = await waitState(TYPE_URLS.endpoint, "web", ConfigStatus.STALE, "EDS web STALE");
      expect(g.versionInfo).toBe(want);
      // The stopped Envoy has not taken it: it still runs on the previous assignment.
      expect(g.errorState).toBeUndefined();
    } finally {
      process.kill(envoy.pid, "SIGCONT");
    }
    const g = await waitState(TYPE_URLS.endpoint, "web", ConfigStatus.SYNCED, "EDS web SYNCED after SIGCONT");
    expect(g.versionInfo).toBe(store.get(TYPE_URLS.endpoint, "web")?.version);
    expect(g.errorState).toBeUndefined();
  }, 30_000);
});
