#!/usr/bin/env node
// Summarises a sampling heap profile (promoted-sampler.cjs, or any .heapprofile): MB allocated by each
// function itself ("self") and under it ("incl", each sample counted once per stack).
//   node bench/tools/promoted-summary.mjs FILE [--top 25]
import { readFileSync } from "node:fs";

const file = process.argv[2];
if (!file) {
  console.log("usage: node bench/tools/promoted-summary.mjs FILE.heapprofile [--top 25]");
  process.exit(0);
}
const topAt = process.argv.indexOf("--top");
const TOP = topAt > 0 ? Number(process.argv[topAt + 1]) : 25;
const profile = JSON.parse(readFileSync(file, "utf8"));
const self = new Map();
const incl = new Map();
let total = 0;
const add = (m, k, v) => m.set(k, (m.get(k) ?? 0) + v);
// Iterative walk: stacks of a server run deep enough to make recursion a risk.
const todo = [{ node: profile.head, stack: [] }];
while (todo.length > 0) {
  const { node, stack } = todo.pop();
  const f = node.callFrame;
  const key = `${f.functionName || "(anonymous)"} ${f.url.split("/").slice(-2).join("/")}:${f.lineNumber + 1}`;
  const here = [...stack, key];
  if (node.selfSize > 0) {
    total += node.selfSize;
    add(self, key, node.selfSize);
    for (const k of new Set(here)) add(incl, k, node.selfSize);
  }
  for (const c of node.children) todo.push({ node: c, stack: here });
}
const mb = (b) => (b / 1e6).toFixed(2).padStart(7);
console.log(`${file}: ${mb(total).trim()} MB sampled`);
const top = (m) => [...m].sort((a, b) => b[1] - a[1]).slice(0, TOP);
console.log("\nself:");
for (const [k, v] of top(self)) console.log(`${mb(v)} MB  ${k}`);
console.log("\ninclusive:");
for (const [k, v] of top(incl)) console.log(`${mb(v)} MB  ${k}`);
