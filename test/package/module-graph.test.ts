/**
 * The shape the code promises (README "Shape of the code"): no import cycles among src/ modules, type
 * imports included, so each stage can be loaded and tested on its own. Read from the sources, so a cycle
 * fails here before anything is built.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { repoRoot } from "../support/private-build.js";

const srcDir = join(repoRoot, "src");

function sourceFiles(dir: string, out: string[] = []): string[] {
  for (const f of readdirSync(dir)) {
    const p = join(dir, f);
    if (statSync(p).isDirectory()) {
      // Generated protobuf code imports only itself and the protobuf runtime.
      if (f !== "gen") sourceFiles(p, out);
    } else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

/** Every cycle found by a depth-first walk, each as the files on it, relative to src/. */
function importCycles(files: readonly string[], read: (f: string) => string): string[][] {
  const known = new Set(files);
  const edges = new Map<string, string[]>();
  for (const f of files) {
    const deps: string[] = [];
    for (const m of read(f).matchAll(/\bfrom\s+"(\.{1,2}\/[^"]+)"/g)) {
      const target = resolve(dirname(f), (m[1] as string).replace(/\.js$/, ".ts"));
      if (known.has(target)) deps.push(target);
    }
    edges.set(f, deps);
  }
  const state = new Map<string, "open" | "done">();
  const cycles: string[][] = [];
  const visit = (f: string, path: string[]): void => {
    state.set(f, "open");
    path.push(f);
    for (const d of edges.get(f) ?? []) {
      if (state.get(d) === "open") cycles.push([...path.slice(path.indexOf(d)), d]);
      else if (state.get(d) === undefined) visit(d, path);
    }
    path.pop();
    state.set(f, "done");
  };
  for (const f of files) if (state.get(f) === undefined) visit(f, []);
  return cycles.map((c) => c.map((f) => relative(srcDir, f)));
}

describe("module graph", () => {
  it("src/ has no import cycles", () => {
    const files = sourceFiles(srcDir);
    expect(files.length).toBeGreaterThan(50);
    expect(importCycles(files, (f) => readFileSync(f, "utf8"))).toEqual([]);
  });

  it("the cycle finder names a cycle, type imports included", () => {
    const a = join(srcDir, "a.ts");
    const b = join(srcDir, "b.ts");
    const text: Record<string, string> = {
      [a]: 'import type { B } from "./b.js";',
      [b]: 'import { A } from "./a.js";',
    };
    expect(importCycles([a, b], (f) => text[f] ?? "")).toEqual([["a.ts", "b.ts", "a.ts"]]);
  });
});
