// What grew between two V8 heap snapshots of one process (e.g. two taken during a soak with
// DNS_EDS_SOAK_NODE_ARGS="--heapsnapshot-signal=SIGUSR1 --diagnostic-dir=DIR" and `kill -USR1 <pid>`).
// Groups nodes by type and name (the constructor for objects, "(string)" for strings, the code kind
// for code), and prints the groups whose bytes grew most, with their counts before and after.
// `--retainers NAME` also prints, for a sample of NAME's nodes that exist only in the second snapshot,
// the chain of objects holding them (up to 8 steps), which is usually enough to name the owner.
// `--match REGEX` narrows those samples to nodes whose name (a string's text) matches.
//   node bench/tools/heap-diff.mjs before.heapsnapshot after.heapsnapshot [--top 25] [--retainers NAME]
//     [--match REGEX]
import { readFileSync } from "node:fs";

const argv = process.argv.slice(2);
const opt = (name, def) => {
  const i = argv.indexOf(`--${name}`);
  return i >= 0 ? argv[i + 1] : def;
};
const [beforePath, afterPath] = argv.filter((a, i) => !a.startsWith("--") && !argv[i - 1]?.startsWith("--"));
if (!beforePath || !afterPath) {
  console.error("usage: heap-diff.mjs before.heapsnapshot after.heapsnapshot [--top N] [--retainers NAME]");
  process.exit(2);
}
const TOP = Number(opt("top", 25));
const RETAINERS = opt("retainers", undefined);
const MATCH = opt("match", undefined) === undefined ? undefined : new RegExp(opt("match"));

function load(path) {
  const snap = JSON.parse(readFileSync(path, "utf8"));
  const meta = snap.snapshot.meta;
  const nf = meta.node_fields;
  const types = meta.node_types[0];
  const ef = meta.edge_fields;
  const edgeTypes = meta.edge_types[0];
  return { snap, nf, types, ef, edgeTypes, nodeSize: nf.length, edgeSize: ef.length };
}

/** Group key of node at offset i. */
function keyOf(h, i) {
  const { snap, nf, types } = h;
  const type = types[snap.nodes[i + nf.indexOf("type")]];
  const name = snap.strings[snap.nodes[i + nf.indexOf("name")]];
  if (type === "string" || type === "concatenated string" || type === "sliced string") return "(string)";
  if (type === "object" || type === "closure" || type === "hidden") return `${type} ${name}`;
  return `(${type})`;
}

function groups(h) {
  const out = new Map();
  const { snap, nf, nodeSize } = h;
  const size = nf.indexOf("self_size");
  for (let i = 0; i < snap.nodes.length; i += nodeSize) {
    const k = keyOf(h, i);
    const g = out.get(k) ?? { count: 0, bytes: 0 };
    g.count++;
    g.bytes += snap.nodes[i + size];
    out.set(k, g);
  }
  return out;
}

const before = load(beforePath);
const gb = groups(before);
const after = load(afterPath);
const ga = groups(after);
const rows = [];
for (const [k, a] of ga) {
  const b = gb.get(k) ?? { count: 0, bytes: 0 };
  rows.push({ k, dBytes: a.bytes - b.bytes, dCount: a.count - b.count, before: b.count, after: a.count });
}
rows.sort((x, y) => y.dBytes - x.dBytes);
const total = (g) => [...g.values()].reduce((s, x) => s + x.bytes, 0);
console.log(
  `heap: ${(total(gb) / 2 ** 20).toFixed(1)} MiB → ${(total(ga) / 2 ** 20).toFixed(1)} MiB (self sizes of all nodes)`,
);
console.log("Δ KiB\tΔ count\tcount before → after\tgroup");
for (const r of rows.slice(0, TOP)) {
  console.log(`${(r.dBytes / 1024).toFixed(1)}\t${r.dCount}\t${r.before} → ${r.after}\t${r.k}`);
}

if (RETAINERS) {
  // Nodes of the group that are new (ids not in the first snapshot), and who holds them.
  const idField = before.nf.indexOf("id");
  const oldIds = new Set();
  for (let i = 0; i < before.snap.nodes.length; i += before.nodeSize)
    oldIds.add(before.snap.nodes[i + idField]);
  const { snap, nf, nodeSize, ef, edgeSize, edgeTypes } = after;
  const edgeCount = nf.indexOf("edge_count");
  const toNode = ef.indexOf("to_node");
  const edgeName = ef.indexOf("name_or_index");
  const edgeType = ef.indexOf("type");
  // Reverse edges: node offset → [holder offset, edge label].
  const holders = new Map();
  let e = 0;
  for (let i = 0; i < snap.nodes.length; i += nodeSize) {
    const n = snap.nodes[i + edgeCount];
    for (let j = 0; j < n; j++, e += edgeSize) {
      const to = snap.edges[e + toNode];
      const t = edgeTypes[snap.edges[e + edgeType]];
      if (t === "weak") continue;
      const label =
        t === "element" || t === "hidden"
          ? `[${snap.edges[e + edgeName]}]`
          : snap.strings[snap.edges[e + edgeName]];
      let list = holders.get(to);
      if (!list) {
        list = [];
        holders.set(to, list);
      }
      if (list.length < 4) list.push([i, label]);
    }
  }
  const describe = (i) => {
    const name = snap.strings[snap.nodes[i + nf.indexOf("name")]];
    return `${keyOf(after, i)}${keyOf(after, i) === "(string)" ? ` ${JSON.stringify(name.slice(0, 40))}` : ""}`;
  };
  let shown = 0;
  for (let i = 0; i < snap.nodes.length && shown < 5; i += nodeSize) {
    if (keyOf(after, i) !== RETAINERS || oldIds.has(snap.nodes[i + idField])) continue;
    if (MATCH && !MATCH.test(snap.strings[snap.nodes[i + nf.indexOf("name")]])) continue;
    shown++;
    const chain = [describe(i)];
    let at = i;
    for (let step = 0; step < 8; step++) {
      const h = (holders.get(at) ?? []).find(
        ([o]) => !keyOf(after, o).startsWith("(system") && !keyOf(after, o).startsWith("(synthetic"),
      );
      if (!h) break;
      chain.push(`  ← .${h[1]} of ${describe(h[0])}`);
      at = h[0];
    }
    console.log(`\n${chain.join("\n")}`);
  }
}
