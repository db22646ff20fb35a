import { readFileSync, writeFileSync } from "node:fs";
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

  it("holds the generated reference table (UPDATE_CONFIG_DOCS=1 rewrites it)", () => {
    const doc = readFileSync(docsPath, "utf8");
    const begin = doc.indexOf(REFERENCE_BEGIN);
    const end = doc.indexOf(REFERENCE_END);
    expect(begin, "markers missing in docs/config.md").toBeGreaterThanOrEqual(0);
    expect(end).toBeGreaterThan(begin);
    const current = doc.slice(begin, end + REFERENCE_END.length);
    const wanted = renderConfigReference();
    if (current !== wanted && process.env.UPDATE_CONFIG_DOCS === "1") {
      writeFileSync(docsPath, doc.slice(0, begin) + wanted + doc.slice(end + REFERENCE_END.length));
      return;
    }
    expect(current, "run UPDATE_CONFIG_DOCS=1 npx vitest run test/config/config-docs.test.ts").toBe(wanted);
  });

  it("mentions every key, with its full path, in the table", () => {
    const doc = readFileSync(docsPath, "utf8");
    for (const k of keys) expect(doc, k.path).toContain(`| \`${k.path}\` |`);
  });
});
