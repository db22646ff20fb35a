/**
 * Envoy in the loop, endpoint metadata and Envoy's subset load balancer (SotW, then Delta). Cluster `web`
 * has two DNS sources on real BIND: `v1` (127.0.0.111–112) with `metadata: {version: v1}` from the config,
 * and `v2` (127.0.0.113) whose `version=v2` and `stage=canary` come from TXT records (`txtMetadata`).
 * `subsetSelectors: [[version], [stage]]` puts lb_subset_config on the Cluster; Envoy's routes pick a
 * subset with metadata_match under `envoy.lb`:
 *   x-version: v1 → only v1 hosts; x-version: v2 → only the TXT-tagged host; x-stage: canary → the same;
 *   x-version: v3 (no such subset) → any endpoint (fallback ANY_ENDPOINT).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { type DnsEdsInstance, startDnsEds } from "../support/dns-eds-instance.js";
import { ADS_MODES, dumpEnvoyLogsOnFailure, type Envoy, startEnvoy, tally } from "../support/envoy.js";
import { freePortOnAll } from "../support/grpc-backends.js";
import { type HttpWho, startHttpWhos } from "../support/http-who-backend.js";
import { waitFor } from "../support/wait-for.js";

const V1 = ["127.0.0.111", "127.0.0.112"];
const V2 = ["127.0.0.113"];
const ORIGIN = "envoy-meta.test";

let bind: BindServer;
let cp: DnsEdsInstance;
let backends: Map<string, HttpWho>;
let port = 0;

dumpEnvoyLogsOnFailure();

/** A route that sends requests carrying `header: value` to the `web` subset whose `key` is `value`. */
const subsetRoute = (header: string, key: string, value: string) => ({
  match: { prefix: "/", headers: [{ name: header, string_match: { exact: value } }] },
  route: {
    cluster: "web",
    timeout: "5s",
    metadata_match: { filter_metadata: { "envoy.lb": { [key]: value } } },
  },
});

beforeAll(async () => {
  port = await freePortOnAll([...V1, ...V2]);
  backends = await startHttpWhos([...V1, ...V2], port);
  bind = await startBindServer({
    zones: [
      {
        origin: ORIGIN,
        records: [
          ...V1.map((h) => `v1 5 IN A ${h}`),
          ...V2.map((h) => `v2 5 IN A ${h}`),
          'v2 5 IN TXT "version=v2"',
          'v2 5 IN TXT "stage=canary"',
        ].join("\n"),
      },
    ],
  });
  cp = await startDnsEds({
    dns: { servers: [bind.server], minTtl: 1, allowLoopback: true },
    clusters: [
      {
        name: "web",
        ipFamily: "V4_ONLY",
        subsetSelectors: [["version"], ["stage"]],
        sources: [
          { dns: { name: `v1.${ORIGIN}`, port }, metadata: { version: "v1" } },
          { dns: { name: `v2.${ORIGIN}`, port }, txtMetadata: true },
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

describe.each(ADS_MODES)("metadata subsets through Envoy (ADS %s)", (mode) => {
  let envoy: Envoy;
  beforeAll(async () => {
    envoy = await startEnvoy({
      xdsPorts: [cp.xdsPort],
      ads: mode,
      routes: [
        subsetRoute("x-version", "version", "v1"),
        subsetRoute("x-version", "version", "v2"),
        subsetRoute("x-version", "version", "v3"),
        subsetRoute("x-stage", "stage", "canary"),
      ],
    });
    await waitFor("Envoy to hold 3 hosts for web", 20_000, async () =>
      ((await envoy.hosts("web")) ?? []).length === 3 ? true : undefined,
    );
  }, 60_000);
  afterAll(async () => {
    await envoy?.stop();
  });

  it("ACKs the subset config and holds the metadata from config and TXT", async () => {
    expect(await envoy.stat("cluster_manager.cds.update_rejected")).toBe(0);
    expect(await envoy.stat("cluster.web.update_rejected")).toBe(0);
    // Envoy's dump prints Struct fields in its own (map) order: compare as objects.
    const cla = (await envoy.edsAssignment("web")) as {
      endpoints: Array<{
        lb_endpoints: Array<{
          endpoint: { address: { socket_address: { address: string } } };
          metadata?: { filter_metadata?: Record<string, Record<string, string>> };
        }>;
      }>;
    };
    const md = Object.fromEntries(
      cla.endpoints
        .flatMap((l) => l.lb_endpoints)
        .map((e) => [e.endpoint.address.socket_address.address, e.metadata?.filter_metadata?.["envoy.lb"]]),
    );
    expect(md).toEqual({
      [V1[0] as string]: { version: "v1" },
      [V1[1] as string]: { version: "v1" },
      [V2[0] as string]: { version: "v2", stage: "canary" },
    });
  });

  it("routes by metadata: version from config, version and stage from TXT, fallback to any endpoint", async () => {
    const send = (headers: Record<string, string>) => () => envoy.get("web", "/", headers);
    expect([...(await tally(20, send({ "x-version": "v1" }))).keys()].sort()).toEqual(V1);
    expect([...(await tally(10, send({ "x-version": "v2" }))).keys()]).toEqual(V2);
    expect([...(await tally(10, send({ "x-stage": "canary" }))).keys()]).toEqual(V2);
    expect([...(await tally(30, send({ "x-version": "v3" }))).keys()].sort()).toEqual([...V1, ...V2].sort());
    expect(await envoy.stat("cluster.web.lb_subsets_fallback")).toBeGreaterThanOrEqual(30);
    expect(await envoy.stat("cluster.web.lb_subsets_selected")).toBeGreaterThanOrEqual(40);
  });
});
