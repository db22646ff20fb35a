/**
 * /config_dump in Envoy's shape: every entry decodes (strictly, unknown fields refused) as the Envoy admin
 * type its `@type` names, with proto field names; `?resource=`, `?mask=` and `?name_regex=` behave as
 * Envoy 1.40's admin does (checked by hand against a real Envoy: full-match regexes, masks that cross
 * into Any but not into repeated fields, 404 for an unknown resource, 400 for a bad mask).
 */
import { fromJson, type JsonValue } from "@bufbuild/protobuf";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ConfigDumpSchema } from "../../src/gen/envoy/admin/v3/config_dump_pb.js";
import {
  ClustersConfigDump_DynamicClusterSchema,
  ClustersConfigDumpSchema,
  EndpointsConfigDumpSchema,
  ListenersConfigDumpSchema,
  RoutesConfigDumpSchema,
} from "../../src/gen/envoy/admin/v3/config_dump_shared_pb.js";
import {
  type ClusterLoadAssignment,
  ClusterLoadAssignmentSchema,
} from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { ConfigDumpError, DUMP_REGISTRY, envoyConfigDump } from "../../src/xds/envoy-config-dump.js";
import {
  clusterLoadAssignment,
  edsCluster,
  grpcApiListener,
  routeToCluster,
} from "../../src/xds/resource-builders.js";
import { ResourceStore } from "../../src/xds/resource-store.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";

const T0 = Date.parse("2026-11-30T10:00:00.000Z");

function fleetStore(): ResourceStore {
  let t = T0;
  const store = new ResourceStore({ now: () => t });
  const cla = (name: string, ...addrs: string[]) =>
    clusterLoadAssignment(name, [{ zone: "z1", endpoints: addrs.map((a) => ({ address: a, port: 8080 })) }]);
  store.publish({
    upsert: [
      {
        typeUrl: TYPE_URLS.endpoint,
        name: "payments",
        resource: cla("payments", "10.0.0.1", "10.0.0.2"),
        variants: new Map([["zone-b", cla("payments", "10.0.0.2", "10.0.0.1")]]),
      },
      { typeUrl: TYPE_URLS.cluster, name: "payments", resource: edsCluster("payments") },
      { typeUrl: TYPE_URLS.endpoint, name: "orders", resource: cla("orders", "10.0.1.1") },
      { typeUrl: TYPE_URLS.cluster, name: "orders", resource: edsCluster("orders") },
      { typeUrl: TYPE_URLS.route, name: "payments", resource: routeToCluster("payments", "payments") },
      { typeUrl: TYPE_URLS.listener, name: "payments", resource: grpcApiListener("payments", "payments") },
    ],
  });
  t = T0 + 5_000;
  store.publish({
    upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "orders", resource: cla("orders", "10.0.1.2") }],
  });
  return store;
}

type Config = { "@type": string } & Record<string, unknown>;
const configsOf = (d: Record<string, unknown>) => (d.configs ?? []) as Config[];

describe("Envoy-shaped /config_dump", () => {
  it("decodes strictly as envoy.admin.v3.ConfigDump with the four admin types, proto field names", () => {
    const store = fleetStore();
    const json = envoyConfigDump(store);
    // Strict: an unknown or camelCase field name would throw here.
    const dump = fromJson(ConfigDumpSchema, json as JsonValue, { registry: DUMP_REGISTRY });
    const types = dump.configs.map((c) => c.typeUrl);
    expect(types).toEqual([
      "type.googleapis.com/envoy.admin.v3.ClustersConfigDump",
      "type.googleapis.com/envoy.admin.v3.EndpointsConfigDump",
      "type.googleapis.com/envoy.admin.v3.ListenersConfigDump",
      "type.googleapis.com/envoy.admin.v3.RoutesConfigDump",
    ]);
    const clusters = anyUnpack(dump.configs[0] as never, ClustersConfigDumpSchema);
    expect(clusters?.dynamicActiveClusters.map((c) => c.versionInfo)).toEqual([
      store.get(TYPE_URLS.cluster, "orders")?.version,
      store.get(TYPE_URLS.cluster, "payments")?.version,
    ]);
    expect(clusters?.dynamicActiveClusters[0]?.cluster?.typeUrl).toBe(TYPE_URLS.cluster);

    const endpoints = anyUnpack(dump.configs[1] as never, EndpointsConfigDumpSchema);
    const eps = endpoints?.dynamicEndpointConfigs ?? [];
    // orders, payments (default), payments (zone-b variant).
    expect(eps).toHaveLength(3);
    const unpacked = eps.map(
      (e) => anyUnpack(e.endpointConfig as never, ClusterLoadAssignmentSchema) as ClusterLoadAssignment,
    );
    expect(unpacked.map((c) => c.clusterName)).toEqual(["orders", "payments", "payments"]);
    expect(eps[1]?.versionInfo).toBe(store.get(TYPE_URLS.endpoint, "payments")?.version);
    expect(eps[2]?.versionInfo).toBe(
      `${store.get(TYPE_URLS.endpoint, "payments", "zone-b")?.version} variant=zone-b`,
    );
    // The variant's own content: its first endpoint is 10.0.0.2.
    const firstAddr = (c: ClusterLoadAssignment) => {
      const a = c.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
      return a?.case === "endpoint" && a.value.address?.address.case === "socketAddress"
        ? a.value.address.address.value.address
        : undefined;
    };
    expect(firstAddr(unpacked[1] as ClusterLoadAssignment)).toBe("10.0.0.1");
    expect(firstAddr(unpacked[2] as ClusterLoadAssignment)).toBe("10.0.0.2");
    // last_updated is the publish that last changed the resource.
    expect(eps[0]?.lastUpdated?.seconds).toBe(BigInt((T0 + 5_000) / 1000));
    expect(eps[1]?.lastUpdated?.seconds).toBe(BigInt(T0 / 1000));

    const listeners = anyUnpack(dump.configs[2] as never, ListenersConfigDumpSchema);
    expect(listeners?.dynamicListeners[0]?.name).toBe("payments");
    expect(listeners?.dynamicListeners[0]?.activeState?.versionInfo).toMatch(/^[0-9a-f]{16}$/);
    const routes = anyUnpack(dump.configs[3] as never, RoutesConfigDumpSchema);
    expect(routes?.dynamicRouteConfigs).toHaveLength(1);

    // The raw JSON uses proto field names, as Envoy prints them.
    const text = JSON.stringify(json);
    expect(text).toContain('"dynamic_active_clusters"');
    expect(text).toContain('"cluster_name":"payments"');
    expect(text).toContain('"last_updated":"2026-11-30T10:00:05Z"');
    expect(text).not.toContain("clusterName");
    // "@type" leads each Any, as Envoy prints it.
    expect(text).toContain(
      '"cluster":{"@type":"type.googleapis.com/envoy.config.cluster.v3.Cluster","name":"orders"',
    );
  });

  it("?resource= lists each element as its own config; unknown resource is not found", () => {
    const store = fleetStore();
    const json = envoyConfigDump(store, { resource: "dynamic_active_clusters" });
    const configs = configsOf(json);
    expect(configs.map((c) => c["@type"])).toEqual([
      "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster",
      "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster",
    ]);
    const decoded = fromJson(ConfigDumpSchema, json as JsonValue, { registry: DUMP_REGISTRY });
    const first = anyUnpack(decoded.configs[0] as never, ClustersConfigDump_DynamicClusterSchema);
    expect(first?.cluster?.typeUrl).toBe(TYPE_URLS.cluster);
    // A field that exists but is always empty here: no configs, printed as {} like Envoy.
    expect(envoyConfigDump(store, { resource: "static_clusters" })).toEqual({});
    expect(() => envoyConfigDump(store, { resource: "nope" })).toThrow(
      expect.objectContaining({
        code: "ERR_CONFIG_DUMP_NOT_FOUND",
        message: "nope not found in config dump",
      }),
    );
  });

  it("?mask= trims each config, enters Any, keeps @type; invalid masks are refused", () => {
    const store = fleetStore();
    const names = configsOf(
      envoyConfigDump(store, { resource: "dynamic_active_clusters", mask: "cluster.name,version_info" }),
    );
    expect(names).toEqual([
      {
        "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster",
        cluster: { "@type": TYPE_URLS.cluster, name: "orders" },
        version_info: store.get(TYPE_URLS.cluster, "orders")?.version,
      },
      {
        "@type": "type.googleapis.com/envoy.admin.v3.ClustersConfigDump.DynamicCluster",
        cluster: { "@type": TYPE_URLS.cluster, name: "payments" },
        version_info: store.get(TYPE_URLS.cluster, "payments")?.version,
      },
    ]);
    // Without resource: applied to each top-level dump; those it does not fit are left out.
    const top = configsOf(envoyConfigDump(store, { mask: "dynamic_route_configs" }));
    expect(top.map((c) => c["@type"])).toEqual(["type.googleapis.com/envoy.admin.v3.RoutesConfigDump"]);
    expect(top[0]?.dynamic_route_configs).toHaveLength(1);
    // Crossing a repeated field, or naming no field: Envoy's 400.
    for (const mask of ["dynamic_active_clusters.cluster.name", "bogus", "a..b"]) {
      expect(() => envoyConfigDump(store, { mask })).toThrow(ConfigDumpError);
    }
    expect(() => envoyConfigDump(store, { resource: "dynamic_listeners", mask: "nope.x" })).toThrow(
      expect.objectContaining({ code: "ERR_CONFIG_DUMP_BAD_QUERY" }),
    );
  });

  it("?name_regex= keeps resources whose whole name matches; unsafe or invalid patterns are refused", () => {
    const store = fleetStore();
    const pay = configsOf(
      envoyConfigDump(store, { resource: "dynamic_endpoint_configs", nameRegex: "pay.*" }),
    );
    expect(pay).toHaveLength(2); // default + zone-b variant
    // Full match, as RE2's FullMatch in Envoy: a prefix alone matches nothing.
    expect(envoyConfigDump(store, { resource: "dynamic_endpoint_configs", nameRegex: "pay" })).toEqual({});
    const both = envoyConfigDump(store, { nameRegex: "orders|payments" });
    const eds = configsOf(both).find((c) => c["@type"].endsWith("EndpointsConfigDump"));
    expect(eds?.dynamic_endpoint_configs).toHaveLength(3);
    for (const bad of ["(", "(a+)+", "(\\w)\\1", "x".repeat(300)]) {
      expect(() => envoyConfigDump(store, { nameRegex: bad })).toThrow(
        expect.objectContaining({ code: "ERR_CONFIG_DUMP_BAD_QUERY" }),
      );
    }
  });

  it("an empty store dumps the four types with nothing in them", () => {
    const json = envoyConfigDump(new ResourceStore());
    expect(configsOf(json).map((c) => Object.keys(c))).toEqual([["@type"], ["@type"], ["@type"], ["@type"]]);
  });
});
