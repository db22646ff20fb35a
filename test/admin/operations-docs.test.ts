import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { createMetrics } from "../../src/admin/metrics.js";
import { QUERY_OUTCOMES } from "../../src/dns/dns-metrics.js";

const doc = () => readFileSync(join(import.meta.dirname, "..", "..", "docs", "operations.md"), "utf8");

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

  it("names exactly the label values the code emits for DNS query outcomes and reload outcomes", () => {
    const row = (metric: string) =>
      doc()
        .split("\n")
        .find((l) => l.startsWith(`| \`${metric}\``)) ?? "";
    const values = (line: string) =>
      [...(line.split("|")[4] ?? "").matchAll(/`([a-z_]+)`/g)].map((m) => m[1]);
    expect(values(row("dnseds_dns_queries_total")).sort()).toEqual([...QUERY_OUTCOMES].sort());
    // The reload outcomes are emitted by the serve command; each is checked on a real process in
    // test/cli (applied, unchanged, invalid) and test/cli/serve-e2e (partial).
    expect(values(row("dnseds_config_reloads_total")).sort()).toEqual(
      ["applied", "invalid", "partial", "unchanged"].sort(),
    );
  });
});
