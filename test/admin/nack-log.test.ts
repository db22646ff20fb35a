/**
 * The NACK log behind `/clusters`: the last rejection per (resource, type), with node, version and the
 * client's message; bounded, oldest first out.
 */
import { describe, expect, it } from "vitest";
import { renderClustersText } from "../../src/admin/clusters-page.js";
import { NackLog } from "../../src/admin/nack-log.js";

const EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";
const CDS = "type.googleapis.com/envoy.config.cluster.v3.Cluster";

describe("NackLog", () => {
  it("keeps the last NACK of each resource type by name and shows it on /clusters", () => {
    const log = new NackLog(10, () => Date.UTC(2026, 0, 1));
    log.record(EDS, "first", { node: "envoy-1", resources: [{ name: "web", version: "v1" }] });
    log.record(EDS, "weight must be ≥ 1", { node: "envoy-2", resources: [{ name: "web", version: "v2" }] });
    log.record(CDS, "bad cluster", { node: "envoy-1", resources: [{ name: "web", version: "c1" }] });
    const got = log.forName("web");
    expect(got).toEqual([
      {
        type: "cluster",
        version: "c1",
        node: "envoy-1",
        detail: "bad cluster",
        at: "2026-01-01T00:00:00.000Z",
      },
      {
        type: "endpoint",
        version: "v2",
        node: "envoy-2",
        detail: "weight must be ≥ 1",
        at: "2026-01-01T00:00:00.000Z",
      },
    ]);
    expect(log.forName("other")).toEqual([]);
    const text = renderClustersText([{ name: "web", endpoints: [], nacks: got }]);
    expect(text).toContain(
      "last NACK: endpoint version v2 by envoy-2 at 2026-01-01T00:00:00.000Z: weight must be ≥ 1",
    );
  });

  it("holds at most maxEntries, dropping the oldest", () => {
    const log = new NackLog(3);
    for (let i = 0; i < 5; i++)
      log.record(EDS, "x", { node: "n", resources: [{ name: `c${i}`, version: "v" }] });
    expect(log.forName("c0")).toEqual([]);
    expect(log.forName("c1")).toEqual([]);
    expect(log.forName("c4")).toHaveLength(1);
  });
});
