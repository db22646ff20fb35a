/**
 * Test helper: compiles chosen entry points of src/ (and what they import) with tsc into a private
 * folder under .tmp/, so CLI tests run real JavaScript without sharing dist/ with parallel test files.
 */
import { execFile } from "node:child_process";
import { existsSync, mkdirSync, mkdtempSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { promisify } from "node:util";

const run = promisify(execFile);
export const repoRoot = join(import.meta.dirname, "..", "..");

/** Builds `entries` (paths under src/) and returns the folder; `<folder>/cli/main.js` is the binary. */
export async function buildPrivate(prefix: string, entries: string[]): Promise<string> {
  mkdirSync(join(repoRoot, ".tmp"), { recursive: true });
  const dir = mkdtempSync(join(repoRoot, ".tmp", prefix));
  writeFileSync(
    join(dir, "tsconfig.json"),
    JSON.stringify({
      extends: "../../tsconfig.json",
      compilerOptions: { outDir: ".", rootDir: "../../src", sourceMap: false },
      files: entries.map((e) => `../../src/${e}`),
      include: [],
    }),
  );
  const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");
  try {
    await run(process.execPath, [tsc, "-p", join(dir, "tsconfig.json")], { cwd: repoRoot });
  } catch (err) {
    // Type errors are `npm run lint`'s job; tsc still emits, which keeps these tests independent of a
    // half-edited module elsewhere in a shared working tree. Only missing output is a failure here.
    const missing = entries.map((e) => join(dir, e.replace(/\.ts$/, ".js"))).filter((p) => !existsSync(p));
    if (missing.length > 0)
      throw new Error(`tsc emitted no ${missing.join(", ")}: ${(err as { stdout?: string }).stdout ?? err}`);
  }
  return dir;
}
