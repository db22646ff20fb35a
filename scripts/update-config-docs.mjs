// Rewrites the generated reference table in docs/config.md from the schema (the built dist/, so run
// `npm run build` first). The test test/config/config-docs.test.ts only compares; it never writes, so
// a stale table fails CI instead of being fixed silently there.
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { REFERENCE_BEGIN, REFERENCE_END, renderConfigReference } from "../dist/config/config-reference.js";

const docsPath = join(import.meta.dirname, "..", "docs", "config.md");
const doc = readFileSync(docsPath, "utf8");
const begin = doc.indexOf(REFERENCE_BEGIN);
const end = doc.indexOf(REFERENCE_END);
if (begin < 0 || end < begin) {
  console.error(
    `update-config-docs: the markers ${REFERENCE_BEGIN} … ${REFERENCE_END} are missing in ${docsPath}`,
  );
  process.exit(1);
}
const next = doc.slice(0, begin) + renderConfigReference() + doc.slice(end + REFERENCE_END.length);
if (next === doc) {
  console.log("docs/config.md: reference table already up to date");
} else {
  writeFileSync(docsPath, next);
  console.log("docs/config.md: reference table rewritten");
}
