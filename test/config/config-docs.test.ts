import { readFileSync } from "node:fs";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import {
  KEY_DESCRIPTIONS,
  listSchemaKeys,
  REFERENCE_BEGIN,
  REFERENCE_END,
  renderConfigReference,
} from "../../src/config/config-reference.js";

const docsPath = join(import.meta.dirname, "..", "..", "docs", "config.md");

describe("docs/config.md matches the schema", () => {
  const keys = listSchemaKeys();

  it("finds the keys of every section", () => {
    const paths = keys.map((k) => k.path);
    for (const p of [
      "xds.limits.debounceMs",
      "dns.servers",
      "cache.etcd.auth.passwordFile",
      "clusters[].sources[].static[].port",
    ]) {
      expect(paths).toContain(p);
    }
  });

  it("describes every schema key, and nothing that is not one", () => {
    const paths = new Set(keys.map((k) => k.path));
    expect(keys.filter((k) => !KEY_DESCRIPTIONS[k.path]).map((k) => k.path)).toEqual([]);
    expect(Object.keys(KEY_DESCRIPTIONS).filter((p) => !paths.has(p))).toEqual([]);
  });

  it("holds the generated reference table", () => {
    const doc = readFileSync(docsPath, "utf8");
    const begin = doc.indexOf(REFERENCE_BEGIN);
    const end = doc.indexOf(REFERENCE_END);
    expect(begin, "markers missing in docs/config.md").toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(begin);
    const current = doc.slice(begin, end + REFERENCE_END.length);
    expect(current, "stale: run `npm run build && node scripts/update-config-docs.mjs`").toBe(
      renderConfigReference(),
    );
  });

  it("mentions every key, with its full path, in the table", () => {
    const doc = readFileSync(docsPath, "utf8");
    for (const k of keys) expect(doc, k.path).toContain(`| \`${k.path}\` |`);
  });
});
