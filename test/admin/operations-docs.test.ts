import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createMetrics } from "../../src/admin/metrics.js";

describe("docs/operations.md lists the metric set", () => {
  it("has a row for every dns-eds metric (process metrics aside) and no row for a metric that is gone", async () => {
    const doc = readFileSync(join(import.meta.dirname, "..", "..", "docs", "operations.md"), "utf8");
    const table = doc.slice(doc.indexOf("<!-- metrics:begin -->"), doc.indexOf("<!-- metrics:end -->"));
    const documented = [...table.matchAll(/^\| `(dnseds_[a-z_]+)` \|/gm)].map((m) => m[1]);
    const metrics = createMetrics({ processMetrics: false });
    const names = (await metrics.registry.getMetricsAsJSON()).map((m) => m.name);
    expect(names.length).toBeGreaterThan(15);
    expect([...documented].sort()).toEqual([...names].sort());
  });
});
