/**
 * Envoy in the loop, NACK (SotW, then Delta). No config makes dns-eds build a resource Envoy rejects
 * (every rejection found in test/envoy/cluster-options.test.ts was fixed in src), so this test publishes
 * one through the test-only path: dns-eds runs with `new ResourceStore({ skipValidation: true })` and the
 * test publishes an assignment for `web` with an endpoint weight of 0, which Envoy's proto validation
 * refuses (LbEndpoint.load_balancing_weight ≥ 1).
 * - Envoy rejects it (`update_rejected`), keeps the last good assignment, and traffic continues on it;
 * - dns-eds counts the NACK (`dnseds_xds_nacks_total{type="eds"}`) and shows it on /clusters;
 * - it does not send the rejected version again: later pushes (another cluster's change, seen by Envoy)
 *   come and go and Envoy's rejection count stays at one;
 * - the next good change (a DNS change) is applied.
 */
import { create } from "@bufbuild/protobuf";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterLoadAssignmentSchema } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { ResourceStore } from "../../src/xds/resource-store.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { type DnsEdsInstance, startDnsEds } from "../support/dns-eds-instance.js";
import { ADS_MODES, dumpEnvoyLogsOnFailure, type Envoy, startEnvoy, tally } from "../support/envoy.js";
import { freePortOnAll } from "../support/grpc-backends.js";
import { type HttpWho, startHttpWhos } from "../support/http-who-backend.js";
import { waitFor } from "../support/wait-for.js";

const HOSTS = ["127.0.0.71", "127.0.0.72", "127.0.0.73"];
const ORIGIN = "envoy-nack.test";

let bind: BindServer;
let cp: DnsEdsInstance;
let backends: Map<string, HttpWho>;
let port = 0;

dumpEnvoyLogsOnFailure();

const zone = (web: readonly string[], other: readonly string[]) => ({
  origin: ORIGIN,
  records: [...web.map((h) => `web 1 IN A ${h}`), ...other.map((h) => `other 1 IN A ${h}`)].join("\n"),
  negativeTtl: 1,
});

const addresses = async (envoy: Envoy, cluster: string) =>
  ((await envoy.hosts(cluster)) ?? []).map((h) => h.address).sort();

/** An assignment Envoy refuses: proto validation wants every endpoint weight ≥ 1. */
function badAssignment() {
  return create(ClusterLoadAssignmentSchema, {
    clusterName: "web",
    endpoints: [
      {
        locality: { zone: "" },
        loadBalancingWeight: 1,
        lbEndpoints: [HOSTS[0] as string, HOSTS[2] as string].map((address) => ({
          hostIdentifier: {
            case: "endpoint" as const,
            value: {
              address: {
                address: {
                  case: "socketAddress" as const,
                  value: { address, portSpecifier: { case: "portValue" as const, value: port } },
                },
              },
            },
          },
          loadBalancingWeight: 0,
        })),
      },
    ],
  });
}

beforeAll(async () => {
  port = await freePortOnAll(HOSTS);
  backends = await startHttpWhos(HOSTS, port);
  bind = await startBindServer({ zones: [zone(HOSTS.slice(0, 2), HOSTS.slice(0, 1))] });
  cp = await startDnsEds(
    {
      dns: { servers: [bind.server], minTtl: 1, allowLoopback: true },
      clusters: [
        { name: "web", dns: { name: `web.${ORIGIN}`, port }, ipFamily: "V4_ONLY", drainMs: 0 },
        { name: "other", dns: { name: `other.${ORIGIN}`, port }, ipFamily: "V4_ONLY", drainMs: 0 },
      ],
    },
    { store: () => new ResourceStore({ skipValidation: true }) },
  );
}, 60_000);

afterAll(async () => {
  await cp?.stop();
  await bind?.stop();
  for (const b of backends?.values() ?? []) await b.close();
});

describe.each(ADS_MODES)("NACK with Envoy (ADS %s)", (mode) => {
  let envoy: Envoy;
  beforeAll(async () => {
    await bind.setZone(zone(HOSTS.slice(0, 2), HOSTS.slice(0, 1)));
    envoy = await startEnvoy({ xdsPorts: [cp.xdsPort], ads: mode });
    await waitFor("Envoy to hold web = h1, h2 and other = h1", 20_000, async () =>
      (await addresses(envoy, "web")).join() === HOSTS.slice(0, 2).join() &&
      (await addresses(envoy, "other")).join() === (HOSTS[0] as string)
        ? true
        : undefined,
    );
  }, 60_000);
  afterAll(async () => {
    await envoy?.stop();
  });

  it("Envoy rejects the bad assignment, keeps the last good one, dns-eds records it and never resends it", async () => {
    const app = cp.app;
    if (!app) throw new Error("dns-eds not running");
    const nacks0 = await cp.metric("dnseds_xds_nacks_total", 'type="eds"');
    const rejected0 = await envoy.stat("cluster.web.update_rejected");
    app.store.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "web", resource: badAssignment() }] });
    const badVersion = app.store.get(TYPE_URLS.endpoint, "web")?.version;

    await waitFor("Envoy to reject the assignment", 10_000, async () =>
      (await envoy.stat("cluster.web.update_rejected")) > rejected0 ? true : undefined,
    );
    await waitFor("dns-eds to count the NACK", 5_000, async () =>
      (await cp.metric("dnseds_xds_nacks_total", 'type="eds"')) > nacks0 ? true : undefined,
    );
    const page = (await cp.adminJson("/clusters?format=json")) as unknown;
    const web = (Array.isArray(page) ? page : ((page as { clusters?: unknown[] }).clusters ?? [])).find(
      (c) => (c as { name?: string }).name === "web",
    ) as { nacks?: Array<{ type: string; version: string; detail: string }> } | undefined;
    expect(web?.nacks?.[0]).toMatchObject({ type: "endpoint", version: badVersion });
    expect(web?.nacks?.[0]?.detail).toMatch(/LoadBalancingWeight: value must be greater than or equal to 1/);

    // The last good assignment stays, and traffic goes on over it (h3 from the bad one gets nothing).
    expect(await addresses(envoy, "web")).toEqual(HOSTS.slice(0, 2));
    const counts = await tally(20, () => envoy.get("web"));
    expect([...counts.keys()].sort()).toEqual(HOSTS.slice(0, 2));

    // Later pushes flow (another cluster changes and Envoy gets it), and the rejected version is not
    // among them: Envoy has rejected exactly once.
    await bind.setZone(zone(HOSTS.slice(0, 2), HOSTS.slice(0, 2)));
    await waitFor("Envoy to get other's change", 10_000, async () =>
      (await addresses(envoy, "other")).length === 2 ? true : undefined,
    );
    expect(await envoy.stat("cluster.web.update_rejected")).toBe(rejected0 + 1);
    expect(await envoy.stat("cluster_manager.cds.update_rejected")).toBe(0);
  });

  it("the next good change is applied", async () => {
    await bind.setZone(zone(HOSTS, HOSTS.slice(0, 2)));
    await waitFor("Envoy to hold web = h1, h2, h3", 10_000, async () =>
      (await addresses(envoy, "web")).length === 3 ? true : undefined,
    );
    const counts = await tally(30, () => envoy.get("web"));
    expect([...counts.keys()].sort()).toEqual(HOSTS);
    for (const h of (await envoy.hosts("web")) ?? []) expect(h.weight).toBeGreaterThanOrEqual(1);
  });
});
