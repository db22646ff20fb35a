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
}

const formatAddress = (e: EndpointView) =>
  e.address.includes(":") ? `[${e.address}]:${e.port}` : `${e.address}:${e.port}`;

const formatLocality = (l: EndpointView["locality"]) =>
  [l.region, l.zone, l.subZone].some((p) => p !== "") ? [l.region, l.zone, l.subZone].join("/") : "-";

/** Left-aligned columns, widths from the content, no dependencies. */
function table(header: string[], rows: string[][]): string[] {
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
    const sorted = [...c.endpoints].sort(
      (a, b) => a.priority - b.priority || formatAddress(a).localeCompare(formatAddress(b)),
    );
    const rows = sorted.map((e) => [
      formatAddress(e),
      e.health,
      String(e.priority),
      formatLocality(e.locality),
      e.weight !== undefined ? String(e.weight) : "-",
      e.ttlLeftS !== undefined ? `${Math.max(0, Math.round(e.ttlLeftS))}s` : "-",
      e.source,
    ]);
    if (rows.length > 0) {
      for (const l of table(
        ["ENDPOINT", "HEALTH", "PRIORITY", "LOCALITY", "WEIGHT", "TTL LEFT", "SOURCE"],
        rows,
      ))
        out.push(`  ${l}`);
    }
    out.push("");
  }
  return `${out.join("\n")}`;
}
