/**
 * The `/clusters` admin page: each cluster's endpoints with health, priority, locality, source and
 * TTL left, as plain text a person reads in a terminal (`curl`) and as JSON for tools.
 */

export interface EndpointView {
  address: string;
  port: number;
  health: string;
  priority: number;
  locality: { region: string; zone: string; subZone: string };
  /** Where it came from, e.g. `dns payments.example.com`, `srv _grpc._tcp...`, `static`. */
  source: string;
  /** Seconds until the DNS answer behind it expires (absent for static). */
  ttlLeftS?: number;
  weight?: number;
}

export interface ClusterView {
  name: string;
  endpoints: readonly EndpointView[];
  /** Version of the published ClusterLoadAssignment. */
  version?: string;
  /** Last resolution problem, if any (the last good endpoints stay published). */
  error?: string;
  /** The last rejection (NACK) of each of this cluster's resources by some client, if any. */
  nacks?: ReadonlyArray<{ type: string; version: string; node: string; detail: string; at: string }>;
  /**
   * Empty or shrunken answers being ridden out (issue 16), one line each, e.g. "A api.example.com.:
   * NXDOMAIN since …, serving the last set (2 records) until …" or "…: shrink held: seen once (…)".
   */
  notes?: readonly string[];
  /** What was held back from DNS by the input screen (rebinding guard, size caps), and what was kept instead. */
  inputNotes?: readonly string[];
  /** The same holds as data (JSON only): lookup, kind, since and until in unix ms, counts. */
  holds?: readonly HeldAnswerView[];
}

export interface HeldAnswerView {
  lookup: string;
  kind: "empty" | "shrink";
  since: number;
  until: number;
}

const formatAddress = (e: EndpointView) =>
  e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;

const formatLocality = (l: EndpointView["locality"]) =>
  [l.region, l.zone, l.subZone].some((p) => p !== "") ? [l.region, l.zone, l.subZone].join("/") : "-";

/** Column titles of the endpoint table, in the order of `endpointCells`. */
const ENDPOINT_COLUMNS = ["endpoint", "health", "priority", "locality", "weight", "TTL left", "source"];

/** One endpoint's row, shared by the text and HTML pages. */
function endpointCells(e: EndpointView): string[] {
  return [
    formatAddress(e),
    e.health,
    String(e.priority),
    formatLocality(e.locality),
    e.weight !== undefined ? String(e.weight) : "-",
    e.ttlLeftS !== undefined ? `${Math.max(0, Math.round(e.ttlLeftS))}s` : "-",
    e.source,
  ];
}

/** Priority first, then address: the order both pages list endpoints in. */
function sortedEndpoints(endpoints: readonly EndpointView[]): EndpointView[] {
  return [...endpoints].sort(
    (a, b) => a.priority - b.priority || formatAddress(a).localeCompare(formatAddress(b)),
  );
}

/** Left-aligned columns, widths from the content, no dependencies (also used by the clients page). */
export function table(header: string[], rows: string[][]): string[] {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]) =>
    cells
      .map((c, i) => c.padEnd(widths[i] ?? 0))
      .join("  ")
      .trimEnd();
  return [line(header), ...rows.map(line)];
}

export function renderClustersText(clusters: readonly ClusterView[]): string {
  if (clusters.length === 0) return "no clusters configured\n";
  const out: string[] = [];
  for (const c of clusters) {
    const counts = new Map<string, number>();
    for (const e of c.endpoints) counts.set(e.health, (counts.get(e.health) ?? 0) + 1);
    const summary = [...counts].map(([h, n]) => `${n} ${h}`).join(", ") || "no endpoints";
    out.push(`cluster ${c.name}${c.version ? ` (version ${c.version})` : ""}: ${summary}`);
    if (c.error) out.push(`  last error: ${c.error}`);
    for (const n of c.notes ?? []) out.push(`  held: ${n}`);
    for (const n of c.nacks ?? [])
      out.push(`  last NACK: ${n.type} version ${n.version} by ${n.node || "?"} at ${n.at}: ${n.detail}`);
    for (const n of c.inputNotes ?? []) out.push(`  input: ${n}`);
    const rows = sortedEndpoints(c.endpoints).map(endpointCells);
    if (rows.length > 0) {
      const header = ENDPOINT_COLUMNS.map((h) => h.toUpperCase());
      for (const l of table(header, rows)) out.push(`  ${l}`);
    }
    out.push("");
  }
  return `${out.join("\n")}`;
}

export const escapeHtml = (s: string) =>
  s.replace(
    /[&<>"']/g,
    (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c] ?? c,
  );

/** The HTML id of a cluster's section on the /clusters page. */
export const clusterAnchor = (name: string) => `cluster-${encodeURIComponent(name)}`;

/** The same page for a browser: one table per cluster, every value escaped. */
export function renderClustersHtml(clusters: readonly ClusterView[]): string {
  const parts = [
    "<!doctype html><html><head><meta charset=utf-8><title>dns-eds clusters</title>",
    "<style>body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1.5em}",
    "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;font-family:monospace}",
    ".HEALTHY{color:#070}.UNHEALTHY{color:#b00}.DRAINING{color:#a60}</style></head><body>",
    `<h1>Clusters (${clusters.length})</h1><p><a href="?format=json">JSON</a> · <a href="?format=text">text</a></p>`,
  ];
  for (const c of clusters) {
    // The anchor lets /clients link each client to the clusters it was sent.
    parts.push(
      `<h2 id="${clusterAnchor(c.name)}">${escapeHtml(c.name)}${c.version ? ` <small>version ${escapeHtml(c.version)}</small>` : ""}</h2>`,
    );
    if (c.error) parts.push(`<p>last error: ${escapeHtml(c.error)}</p>`);
    for (const n of c.notes ?? []) parts.push(`<p class="held">held: ${escapeHtml(n)}</p>`);
    for (const n of c.nacks ?? [])
      parts.push(
        `<p>last NACK: ${escapeHtml(`${n.type} version ${n.version} by ${n.node || "?"} at ${n.at}: ${n.detail}`)}</p>`,
      );
    for (const n of c.inputNotes ?? []) parts.push(`<p class="input">input: ${escapeHtml(n)}</p>`);
    if (c.endpoints.length === 0) {
      parts.push("<p>no endpoints</p>");
      continue;
    }
    parts.push(`<table><tr><th>${ENDPOINT_COLUMNS.join("</th><th>")}</th></tr>`);
    for (const e of sortedEndpoints(c.endpoints)) {
      const cells = endpointCells(e).map(escapeHtml);
      parts.push(`<tr class="${escapeHtml(e.health)}"><td>${cells.join("</td><td>")}</td></tr>`);
    }
    parts.push("</table>");
  }
  parts.push("</body></html>\n");
  return parts.join("\n");
}
