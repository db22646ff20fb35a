/**
 * The grace and damping keys of issue 16: global in `dns`, overridable per cluster, folded into each
 * ClusterSpec's flapGuard; bad values are named with path, expectation and actual value.
 */
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { DNS_DEFAULTS } from "../../src/config/defaults.js";
import { parseConfigText } from "../../src/config/load-config.js";

const noResolvConf = { readResolvConf: () => undefined };

function problemsOf(text: string): string[] {
  try {
    parseConfigText(text, noResolvConf);
  } catch (e) {
    if (e instanceof ConfigError) return e.problems.map((p) => `${p.path}: ${p.message}`);
    throw e;
  }
  throw new Error("config was accepted");
}

const clusters = `clusters:
  - name: a
    dns: { name: a.example.com, port: 80 }
  - name: b
    dns: { name: b.example.com, port: 80 }
    emptyGraceMs: 0
    shrinkHoldMs: 5000
`;

describe("flap guard config (dns.emptyGraceMs, dns.shrinkThreshold, dns.shrinkHoldMs and per cluster)", () => {
  it("defaults to an auto grace, a 0.5 threshold and a 30 s hold", () => {
    const c = parseConfigText(clusters, noResolvConf);
    expect(DNS_DEFAULTS.emptyGraceMs).toBe("auto");
    expect(c.dns.emptyGraceMs).toBe("auto");
    expect(c.clusters[0]?.flapGuard).toEqual({
      emptyGraceMs: "auto",
      shrinkThreshold: 0.5,
      shrinkHoldMs: 30_000,
    });
  });

  it("a cluster's keys win over the dns section's, key by key", () => {
    const c = parseConfigText(
      `dns: { emptyGraceMs: 90000, shrinkThreshold: 0.25, shrinkHoldMs: 10000 }\n${clusters}`,
      noResolvConf,
    );
    expect(c.clusters[0]?.flapGuard).toEqual({
      emptyGraceMs: 90_000,
      shrinkThreshold: 0.25,
      shrinkHoldMs: 10_000,
    });
    expect(c.clusters[1]?.flapGuard).toEqual({ emptyGraceMs: 0, shrinkThreshold: 0.25, shrinkHoldMs: 5_000 });
  });

  it.each([
    [
      "dns: { emptyGraceMs: soon }\nclusters: []\n",
      'dns.emptyGraceMs: expected "auto" or an integer 0..86400000, got "soon"',
    ],
    [
      "dns: { emptyGraceMs: -1 }\nclusters: []\n",
      'dns.emptyGraceMs: expected "auto" or an integer 0..86400000, got -1',
    ],
    [
      "dns: { emptyGraceMs: 1.5 }\nclusters: []\n",
      'dns.emptyGraceMs: expected "auto" or an integer 0..86400000, got 1.5',
    ],
    ["dns: { shrinkThreshold: 2 }\nclusters: []\n", "dns.shrinkThreshold: expected a number 0..1, got 2"],
    [
      "dns: { shrinkHoldMs: 86400001 }\nclusters: []\n",
      "dns.shrinkHoldMs: expected an integer 0..86400000, got 86400001",
    ],
    [
      "clusters:\n  - name: a\n    dns: { name: a.example.com, port: 80 }\n    emptyGraceMs: AUTO\n",
      'clusters[0].emptyGraceMs: expected "auto" or an integer 0..86400000, got "AUTO"',
    ],
  ])("%s → names the problem", (text, problem) => {
    expect(problemsOf(text)).toEqual([problem]);
  });
});
