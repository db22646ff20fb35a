import { isIP } from "node:net";
import { create } from "@bufbuild/protobuf";
import { anyPack, anyUnpack } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { ClusterSchema } from "../../src/gen/envoy/config/cluster/v3/cluster_pb.js";
import type { Listener } from "../../src/gen/envoy/config/listener/v3/listener_pb.js";
import {
  type HttpConnectionManager,
  HttpConnectionManagerSchema,
} from "../../src/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";
import { XdsError } from "../../src/xds/errors.js";
import {
  clusterLoadAssignment,
  edsCluster,
  grpcApiListener,
  routeToCluster,
} from "../../src/xds/resource-builders.js";
import { type ResourceChange, ResourceStore } from "../../src/xds/resource-store.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";

const cla = (name: string, ...addrs: string[]) =>
  clusterLoadAssignment(name, [{ zone: "z1", endpoints: addrs.map((a) => ({ address: a, port: 8080 })) }]);

function catchErr(fn: () => unknown): XdsError {
  try {
    fn();
  } catch (e) {
    if (e instanceof XdsError) return e;
    throw e;
  }
  throw new Error("expected an XdsError");
}

describe("ResourceStore", () => {
  it("versions are content hashes: same bytes same version, across store instances", () => {
    const a = new ResourceStore();
    const b = new ResourceStore();
    a.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "svc", resource: cla("svc", "10.0.0.1") }] });
    b.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "svc", resource: cla("svc", "10.0.0.1") }] });
    const va = a.get(TYPE_URLS.endpoint, "svc")?.version;
    expect(va).toMatch(/^[0-9a-f]{16}$/);
    expect(b.get(TYPE_URLS.endpoint, "svc")?.version).toBe(va);
    const r = a.publish({
      upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "svc", resource: cla("svc", "10.0.0.2") }],
    });
    expect(r.changed).toBe(1);
    expect(a.get(TYPE_URLS.endpoint, "svc")?.version).not.toBe(va);
  });

  it("republishing identical content changes nothing and notifies nobody", () => {
    const s = new ResourceStore();
    s.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "svc", resource: cla("svc", "10.0.0.1") }] });
    const seen: ResourceChange[] = [];
    const w = s.watch((c) => seen.push(...c));
    w.setInterest(TYPE_URLS.endpoint, ["svc"], false);
    expect(
      s.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "svc", resource: cla("svc", "10.0.0.1") }] })
        .changed,
    ).toBe(0);
    expect(seen).toEqual([]);
  });

  it("encodes once: the same bytes object is handed to every reader", () => {
    const s = new ResourceStore();
    s.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "svc", resource: cla("svc", "10.0.0.1") }] });
    expect(s.getEncoded(TYPE_URLS.endpoint, "svc")?.sotwField).toBe(
      s.getEncoded(TYPE_URLS.endpoint, "svc")?.sotwField,
    );
  });

  it("variants: a zone gets its own version, others the default", () => {
    const s = new ResourceStore();
    s.publish({
      upsert: [
        {
          typeUrl: TYPE_URLS.endpoint,
          name: "svc",
          resource: cla("svc", "10.0.0.1"),
          variants: new Map([["z2", cla("svc", "10.0.0.2")]]),
        },
      ],
    });
    const base = s.get(TYPE_URLS.endpoint, "svc");
    const z2 = s.get(TYPE_URLS.endpoint, "svc", "z2");
    expect(s.get(TYPE_URLS.endpoint, "svc", "z9")?.version).toBe(base?.version);
    expect(z2?.version).not.toBe(base?.version);
    const entry = s.entries(TYPE_URLS.endpoint)[0];
    expect([...(entry?.variants ?? new Map())].map(([k, v]) => [k, v.version])).toEqual([
      ["z2", z2?.version],
    ]);
  });

  it("watches: by name and wildcard; a changed Cluster re-sends its CLA (force)", () => {
    const s = new ResourceStore();
    const named: ResourceChange[] = [];
    const wild: ResourceChange[] = [];
    const w1 = s.watch((c) => named.push(...c));
    w1.setInterest(TYPE_URLS.endpoint, ["a"], false);
    const w2 = s.watch((c) => wild.push(...c));
    w2.setInterest(TYPE_URLS.cluster, [], true);
    s.publish({
      upsert: [
        { typeUrl: TYPE_URLS.endpoint, name: "a", resource: cla("a", "10.0.0.1") },
        { typeUrl: TYPE_URLS.endpoint, name: "b", resource: cla("b", "10.0.0.1") },
      ],
    });
    expect(named.map((c) => c.name)).toEqual(["a"]);
    s.publish({ upsert: [{ typeUrl: TYPE_URLS.cluster, name: "a", resource: edsCluster("a") }] });
    expect(wild.map((c) => c.name)).toEqual(["a"]);
    expect(named.at(-1)).toMatchObject({ name: "a", force: true, removed: false });
    w1.close();
    s.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "a", resource: cla("a", "10.0.0.9") }] });
    expect(named).toHaveLength(2);
  });

  it("consistency: a Cluster needs its CLA, a Listener its RouteConfiguration; failure leaves the store unchanged", () => {
    const s = new ResourceStore();
    let e = catchErr(() =>
      s.publish({ upsert: [{ typeUrl: TYPE_URLS.cluster, name: "c", resource: edsCluster("c") }] }),
    );
    expect(e.code).toBe("ERR_XDS_INCONSISTENT");
    expect(e.message).toContain("c");
    expect(s.size(TYPE_URLS.cluster)).toBe(0);
    e = catchErr(() =>
      s.publish({
        upsert: [
          { typeUrl: TYPE_URLS.endpoint, name: "c", resource: cla("c", "10.0.0.1") },
          { typeUrl: TYPE_URLS.listener, name: "l", resource: grpcApiListener("l", "r") },
        ],
      }),
    );
    expect(e.code).toBe("ERR_XDS_INCONSISTENT");
    expect(e.resourceName).toBe("l");
    expect(s.size(TYPE_URLS.endpoint)).toBe(0);
    s.publish({
      upsert: [
        { typeUrl: TYPE_URLS.endpoint, name: "c", resource: cla("c", "10.0.0.1") },
        { typeUrl: TYPE_URLS.cluster, name: "c", resource: edsCluster("c") },
        { typeUrl: TYPE_URLS.route, name: "r", resource: routeToCluster("r", "c") },
        { typeUrl: TYPE_URLS.listener, name: "l", resource: grpcApiListener("l", "r") },
      ],
    });
    e = catchErr(() => s.publish({ remove: [{ typeUrl: TYPE_URLS.endpoint, name: "c" }] }));
    expect(e.code).toBe("ERR_XDS_INCONSISTENT");
    expect(s.size(TYPE_URLS.endpoint)).toBe(1);
    expect(
      s.publish({
        remove: [
          { typeUrl: TYPE_URLS.cluster, name: "c" },
          { typeUrl: TYPE_URLS.endpoint, name: "c" },
        ],
      }).changed,
    ).toBe(2);
  });

  it("rejects at publish time what a client would NACK, naming resource and field", () => {
    const s = new ResourceStore();
    const cases: Array<[string, () => unknown, string]> = [
      [
        "locality without weight",
        () => {
          const c = cla("x", "10.0.0.1");
          const loc = c.endpoints[0];
          if (loc) loc.loadBalancingWeight = undefined;
          return c;
        },
        "endpoints[0].load_balancing_weight",
      ],
      [
        "hostname instead of IP",
        () => cla("x", "backend.local"),
        "endpoints[0].lb_endpoints[0].endpoint.address.address",
      ],
      [
        "duplicate address",
        () => cla("x", "10.0.0.1", "10.0.0.1"),
        "endpoints[0].lb_endpoints[1].endpoint.address",
      ],
      [
        "priority gap",
        () =>
          clusterLoadAssignment("x", [
            { zone: "a", endpoints: [{ address: "10.0.0.1", port: 1 }] },
            { zone: "b", priority: 2, endpoints: [{ address: "10.0.0.2", port: 1 }] },
          ]),
        "endpoints.priority",
      ],
      ["cluster_name mismatch", () => cla("other", "10.0.0.1"), "cluster_name"],
    ];
    for (const [label, make, field] of cases) {
      const e = catchErr(() =>
        s.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "x", resource: make() as never }] }),
      );
      expect(e.code, label).toBe("ERR_XDS_INVALID_RESOURCE");
      expect(e.resourceName, label).toBe("x");
      expect(e.field, label).toBe(field);
    }
    const noType = create(ClusterSchema, { name: "c" });
    expect(
      catchErr(() => s.publish({ upsert: [{ typeUrl: TYPE_URLS.cluster, name: "c", resource: noType }] }))
        .field,
    ).toBe("type");
    const l = grpcApiListener("l", "r");
    expect(l.apiListener?.apiListener).toBeDefined();
    const r = routeToCluster("r", "");
    expect(
      catchErr(() => s.publish({ upsert: [{ typeUrl: TYPE_URLS.route, name: "r", resource: r }] })).field,
    ).toBe("virtual_hosts[0].routes[0].route.cluster");
    expect(
      catchErr(() => s.publish({ upsert: [{ typeUrl: "type.googleapis.com/foo", name: "r", resource: r }] }))
        .code,
    ).toBe("ERR_XDS_UNKNOWN_TYPE");
  });

  it("rejects listeners and clusters a gRPC client would NACK", () => {
    const s = new ResourceStore();
    s.publish({ upsert: [{ typeUrl: TYPE_URLS.route, name: "r", resource: routeToCluster("r", "c") }] });
    const withHcm = (edit: (hcm: HttpConnectionManager) => void) => {
      const l = grpcApiListener("l", "r");
      const any = l.apiListener?.apiListener;
      const hcm = any ? anyUnpack(any, HttpConnectionManagerSchema) : undefined;
      if (!hcm || !l.apiListener) throw new Error("builder changed");
      edit(hcm);
      l.apiListener.apiListener = anyPack(HttpConnectionManagerSchema, hcm);
      return l;
    };
    const cases: Array<[string, Listener, string]> = [
      ["no http filters", withHcm((h) => h.httpFilters.splice(0)), "api_listener.api_listener.http_filters"],
      [
        "router without typed_config",
        withHcm((h) => {
          const f = h.httpFilters[0];
          if (f) f.configType = { case: undefined };
        }),
        "api_listener.api_listener.http_filters[0].typed_config",
      ],
      [
        "rds not over ads",
        withHcm((h) => {
          if (h.routeSpecifier.case === "rds") h.routeSpecifier.value.configSource = undefined;
        }),
        "api_listener.api_listener.rds.config_source",
      ],
    ];
    for (const [label, l, field] of cases) {
      const e = catchErr(() =>
        s.publish({ upsert: [{ typeUrl: TYPE_URLS.listener, name: "l", resource: l }] }),
      );
      expect([e.code, e.field], label).toEqual(["ERR_XDS_INVALID_RESOURCE", field]);
    }
    const c = edsCluster("c");
    if (c.edsClusterConfig?.edsConfig)
      c.edsClusterConfig.edsConfig.configSourceSpecifier = { case: undefined };
    s.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "c", resource: cla("c", "10.0.0.1") }] });
    const e = catchErr(() => s.publish({ upsert: [{ typeUrl: TYPE_URLS.cluster, name: "c", resource: c }] }));
    expect([e.code, e.field]).toEqual(["ERR_XDS_INVALID_RESOURCE", "eds_cluster_config.eds_config"]);
  });

  it("accepts endpoint address literals exactly as net.isIP does", () => {
    const s = new ResourceStore();
    const forms = [
      "1.2.3.4",
      "255.255.255.255",
      "256.1.1.1",
      "01.2.3.4",
      "1.2.3",
      "1.2.3.4.5",
      "1..3.4",
      "0.0.0.0",
      "::1",
      "fe80::1",
      "1.2.3.4 ",
      "host",
    ];
    for (const a of forms) {
      let ok = true;
      try {
        s.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "ip", resource: cla("ip", a) }] });
      } catch {
        ok = false;
      }
      expect(ok, a).toBe(isIP(a) !== 0);
    }
  });

  it("entries: sorted by name, with the time of the publish that last changed each", () => {
    let t = 1_000;
    const s = new ResourceStore({ now: () => t });
    s.publish({
      upsert: [
        { typeUrl: TYPE_URLS.route, name: "r2", resource: routeToCluster("r2", "c") },
        { typeUrl: TYPE_URLS.route, name: "r1", resource: routeToCluster("r1", "c") },
      ],
    });
    t = 2_000;
    // r1 unchanged (same bytes) keeps its time; r2 changes.
    s.publish({
      upsert: [
        { typeUrl: TYPE_URLS.route, name: "r1", resource: routeToCluster("r1", "c") },
        { typeUrl: TYPE_URLS.route, name: "r2", resource: routeToCluster("r2", "d") },
      ],
    });
    const e = s.entries(TYPE_URLS.route);
    expect(e.map((x) => [x.name, x.updatedAt])).toEqual([
      ["r1", 1_000],
      ["r2", 2_000],
    ]);
    expect(e[0]?.base.version).toMatch(/^[0-9a-f]{16}$/);
  });
});
