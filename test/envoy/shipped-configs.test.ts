/**
 * Every Envoy config in the repository is loaded by the real Envoy (`envoy --mode validate`, 1.40.0),
 * not just decoded: a decode cannot see that a static route table naming CDS clusters is refused. The
 * files are found by content (a YAML/JSON file with a top-level `static_resources` or
 * `dynamic_resources`), so a new one is covered without touching this test.
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { buildBootstrap, validateEnvoyConfig } from "../support/envoy.js";
import { repoRoot } from "../support/private-build.js";

const SKIP_DIRS = new Set(["node_modules", ".git", ".tmp", "dist", "build", "coverage", "gen"]);

function findEnvoyConfigs(dir: string, out: string[] = []): string[] {
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    if (e.isDirectory()) {
      if (!SKIP_DIRS.has(e.name)) findEnvoyConfigs(join(dir, e.name), out);
      continue;
    }
    if (!/\.(ya?ml|json)$/.test(e.name)) continue;
    const path = join(dir, e.name);
    let doc: unknown;
    try {
      doc = parse(readFileSync(path, "utf8"));
    } catch {
      continue;
    }
    if (doc && typeof doc === "object" && ("static_resources" in doc || "dynamic_resources" in doc)) {
      out.push(path);
    }
  }
  return out;
}

const configs = findEnvoyConfigs(repoRoot).map((p) => relative(repoRoot, p));
const scratch = mkdtempSync(join(tmpdir(), "dnseds-envoy-validate-"));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

describe("shipped Envoy configs load in Envoy 1.40", () => {
  it("finds the docker-compose bootstrap among them", () => {
    expect(configs).toContain("examples/docker-compose/envoy.yaml");
  });

  it.each(configs)("%s passes envoy --mode validate", (rel) => {
    const r = validateEnvoyConfig(join(repoRoot, rel));
    expect(r.output).toContain("OK");
    expect(r.ok).toBe(true);
  });

  it("would refuse the compose bootstrap without validate_clusters: false (the bug it had)", () => {
    const text = readFileSync(join(repoRoot, "examples/docker-compose/envoy.yaml"), "utf8");
    expect(text).toContain("validate_clusters: false");
    const broken = join(scratch, "broken.yaml");
    writeFileSync(broken, text.replace("validate_clusters: false", ""));
    const r = validateEnvoyConfig(broken);
    expect(r.ok).toBe(false);
    expect(r.output).toMatch(/unknown cluster 'app(-srv)?'/);
  });

  it("the README's Envoy bootstrap (Pointing clients at it) validates", () => {
    const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
    const section = readme.slice(readme.indexOf("## Pointing clients at it"));
    const yamlBlock = /```yaml\n([\s\S]*?)```/.exec(section)?.[1];
    expect(yamlBlock).toContain("dynamic_resources");
    const path = join(scratch, "readme.yaml");
    writeFileSync(path, yamlBlock ?? "");
    const r = validateEnvoyConfig(path);
    expect(r.output).toContain("OK");
    expect(r.ok).toBe(true);
  });

  it.each(["sotw", "delta"] as const)(
    "the bootstrap test/support/envoy.ts generates (%s) validates",
    (ads) => {
      const path = join(scratch, `helper-${ads}.json`);
      writeFileSync(
        path,
        JSON.stringify(
          buildBootstrap({ xdsPorts: [18000], ads, tcpProxies: ["web"], locality: { zone: "z1" } }, "n"),
        ),
      );
      const r = validateEnvoyConfig(path);
      expect(r.output).toContain("OK");
      expect(r.ok).toBe(true);
    },
  );
});
