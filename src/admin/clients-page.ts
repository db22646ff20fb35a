/**
 * Connected xDS clients as an operator reads them, from CSDS `ClientConfig`s: one row per client like
 * `istioctl proxy-status` (id, locality, address, replica, then CDS/EDS/LDS/RDS as SYNCED, STALE(age),
 * NACKED or NOT SENT, then versions), one client in detail with each resource and its NACK message,
 * and the same as JSON and HTML. Used by `dns-eds status` (CSDS from one or more replicas) and by the
 * admin `/clients` page (this replica), so both show the same thing.
 */
import { createHash } from "node:crypto";
import type { ClientConfig } from "../gen/envoy/service/status/v3/csds_pb.js";
import { ConfigStatus } from "../gen/envoy/service/status/v3/csds_pb.js";
import { summarizeType, type TypeState } from "../xds/client-summary.js";
import type { ResourceConfigStatus } from "../xds/stream-status.js";
import { TYPE_URLS } from "../xds/type-urls.js";
import { clusterAnchor, escapeHtml, table } from "./clusters-page.js";

export const TYPE_COLUMNS = ["CDS", "EDS", "LDS", "RDS"] as const;
export type TypeColumn = (typeof TYPE_COLUMNS)[number];

const COLUMN_OF: Record<string, TypeColumn> = {
  [TYPE_URLS.cluster]: "CDS",
  [TYPE_URLS.endpoint]: "EDS",
  [TYPE_URLS.listener]: "LDS",
  [TYPE_URLS.route]: "RDS",
};

export interface ResourceRow {
  type: TypeColumn | string;
  name: string;
  status: ResourceConfigStatus;
  /** Held (SYNCED, ERROR), sent (STALE) or "" (NOT_SENT). */
  version: string;
  /** ISO time: ACKed (SYNCED, ERROR) or sent (STALE). */
  last_updated?: string;
  error?: { detail: string; rejected_version: string; at?: string };
}

export interface TypeCell {
  state: TypeState;
  /** Seconds a STALE type has waited, when known. */
  stale_seconds?: number;
  /** The one resource's version, or a digest of every name=version held, 8 hex digits. */
  version: string;
}

export interface ClientRow {
  id: string;
  locality: string;
  address: string;
  /** The replica that reported the client (the address `dns-eds status` asked, or "local"). */
  replica: string;
  streams: string[];
  connected_at?: string;
  types: Partial<Record<TypeColumn, TypeCell>>;
  resources: ResourceRow[];
}

const STATUS_NAME: Partial<Record<ConfigStatus, ResourceConfigStatus>> = {
  [ConfigStatus.SYNCED]: "SYNCED",
  [ConfigStatus.STALE]: "STALE",
  [ConfigStatus.ERROR]: "ERROR",
  [ConfigStatus.NOT_SENT]: "NOT_SENT",
};

const tsMs = (t: { seconds: bigint; nanos: number } | undefined) =>
  t ? Number(t.seconds) * 1000 + Math.floor(t.nanos / 1e6) : undefined;
const isoOf = (ms: number | undefined) => (ms === undefined ? undefined : new Date(ms).toISOString());
const short = (v: string) => v.slice(0, 8);

function digest(held: Array<[string, string]>): string {
  if (held.length === 1) return short((held[0] as [string, string])[1]);
  if (held.length === 0) return "-";
  const text = held
    .map(([n, v]) => `${n}=${v}`)
    .sort()
    .join("\n");
  return createHash("sha256").update(text).digest("hex").slice(0, 8);
}

/** Rows for the clients one replica reported, as of `now`. */
export function clientRows(configs: readonly ClientConfig[], replica: string, now: number): ClientRow[] {
  return configs.map((c) => {
    const meta = (c.node?.metadata ?? {}) as {
      dns_eds?: { peer?: string; streams?: string[]; connected_at?: string };
    };
    const loc = c.node?.locality;
    const resources: ResourceRow[] = c.genericXdsConfigs.map((g) => {
      const at = tsMs(g.lastUpdated);
      const e = g.errorState;
      return {
        type: COLUMN_OF[g.typeUrl] ?? g.typeUrl,
        name: g.name,
        status: STATUS_NAME[g.configStatus] ?? "NOT_SENT",
        version: g.versionInfo,
        ...(at !== undefined ? { last_updated: isoOf(at) as string } : {}),
        ...(e
          ? {
              error: {
                detail: e.details,
                rejected_version: e.versionInfo,
                ...(e.lastUpdateAttempt ? { at: isoOf(tsMs(e.lastUpdateAttempt)) as string } : {}),
              },
            }
          : {}),
      };
    });
    const types: Partial<Record<TypeColumn, TypeCell>> = {};
    for (const col of TYPE_COLUMNS) {
      const mine = resources.filter((r) => r.type === col);
      const summary = summarizeType(
        mine.map((r) => ({
          status: r.status,
          staleSince: r.status === "STALE" && r.last_updated ? Date.parse(r.last_updated) : undefined,
        })),
      );
      if (!summary) continue;
      types[col] = {
        state: summary.state,
        ...(summary.staleSince !== undefined
          ? { stale_seconds: Math.max(0, Math.round((now - summary.staleSince) / 1000)) }
          : {}),
        version: digest(mine.filter((r) => r.version !== "").map((r) => [r.name, r.version])),
      };
    }
    return {
      id: c.node?.id ?? "",
      locality:
        loc && [loc.region, loc.zone, loc.subZone].some((p) => p !== "")
          ? [loc.region, loc.zone, loc.subZone].join("/")
          : "-",
      address: meta.dns_eds?.peer ?? "-",
      replica,
      streams: meta.dns_eds?.streams ?? [],
      ...(meta.dns_eds?.connected_at ? { connected_at: meta.dns_eds.connected_at } : {}),
      types,
      resources,
    };
  });
}

/**
 * Rows from several replicas, each client once: the same node id on the same address is one client
 * (a replica may still list a connection that just moved); the most recently connected report wins.
 */
export function mergeReplicaRows(perReplica: readonly (readonly ClientRow[])[]): ClientRow[] {
  const byKey = new Map<string, ClientRow>();
  for (const rows of perReplica) {
    for (const r of rows) {
      const key = `${r.id}\u0000${r.address}`;
      const prev = byKey.get(key);
      if (!prev || (r.connected_at ?? "") > (prev.connected_at ?? "")) byKey.set(key, r);
    }
  }
  return [...byKey.values()].sort((a, b) => a.id.localeCompare(b.id) || a.address.localeCompare(b.address));
}

function cellText(c: TypeCell | undefined): string {
  if (!c) return "-";
  if (c.state === "STALE") return c.stale_seconds !== undefined ? `STALE(${age(c.stale_seconds)})` : "STALE";
  return c.state === "NOT_SENT" ? "NOT SENT" : c.state;
}

function age(s: number): string {
  if (s < 120) return `${s}s`;
  if (s < 7200) return `${Math.floor(s / 60)}m`;
  return `${Math.floor(s / 3600)}h`;
}

const HEADER = ["CLIENT", "LOCALITY", "ADDRESS", "REPLICA", ...TYPE_COLUMNS, "VERSIONS"];

function rowCells(r: ClientRow): string[] {
  const versions = TYPE_COLUMNS.filter((t) => r.types[t])
    .map((t) => `${t.toLowerCase()}=${r.types[t]?.version}`)
    .join(" ");
  return [
    r.id || "(no id)",
    r.locality,
    r.address,
    r.replica,
    ...TYPE_COLUMNS.map((t) => cellText(r.types[t])),
    versions || "-",
  ];
}

/** One line per client, like `istioctl proxy-status`. */
export function renderClientsText(rows: readonly ClientRow[]): string {
  if (rows.length === 0) return "no xDS clients connected\n";
  return `${table(HEADER, rows.map(rowCells)).join("\n")}\n`;
}

/** One client's resources, each with its status, version and NACK message. */
export function renderClientDetail(r: ClientRow): string {
  const out = [
    `client ${r.id || "(no id)"} at ${r.address} on ${r.replica}`,
    `  locality ${r.locality}; streams ${r.streams.join(", ") || "-"}${r.connected_at ? `; connected ${r.connected_at}` : ""}`,
    "",
  ];
  const rows = r.resources.map((x) => [
    String(x.type),
    x.name,
    x.status === "NOT_SENT" ? "NOT SENT" : x.status,
    x.version || "-",
    x.last_updated ?? "-",
  ]);
  if (rows.length === 0) out.push("  subscribed to nothing");
  else for (const l of table(["TYPE", "NAME", "STATUS", "VERSION", "UPDATED"], rows)) out.push(`  ${l}`);
  for (const x of r.resources) {
    if (!x.error) continue;
    out.push(
      "",
      `  NACK of ${x.type} ${x.name} version ${x.error.rejected_version}${x.error.at ? ` at ${x.error.at}` : ""}:`,
    );
    for (const line of x.error.detail.split("\n")) out.push(`    ${line}`);
  }
  return `${out.join("\n")}\n`;
}

/** The page for a browser: NACKs in red with their messages, EDS/CDS names linked to /clusters. */
export function renderClientsHtml(rows: readonly ClientRow[]): string {
  const parts = [
    "<!doctype html><html><head><meta charset=utf-8><title>dns-eds clients</title>",
    "<style>body{font-family:system-ui,sans-serif;margin:1.5em}table{border-collapse:collapse;margin-bottom:1em}",
    "td,th{border:1px solid #ccc;padding:.2em .6em;text-align:left;font-family:monospace}",
    ".SYNCED{color:#070}.STALE{color:#a60}.NACKED,.ERROR{color:#b00;font-weight:bold}.nack{color:#b00;white-space:pre-wrap}</style></head><body>",
    `<h1>xDS clients (${rows.length})</h1><p><a href="?format=json">JSON</a> · <a href="?format=text">text</a> · <a href="/clusters?format=html">clusters</a></p>`,
  ];
  if (rows.length === 0) parts.push("<p>no xDS clients connected</p>");
  else {
    parts.push(`<table><tr><th>${HEADER.join("</th><th>")}</th></tr>`);
    for (const r of rows) {
      const cells = rowCells(r).map(escapeHtml);
      const typed = TYPE_COLUMNS.map((t, i) => `<td class="${r.types[t]?.state ?? ""}">${cells[4 + i]}</td>`);
      parts.push(
        `<tr><td><a href="#${clientAnchor(r)}">${cells[0]}</a></td><td>${cells[1]}</td><td>${cells[2]}</td><td>${cells[3]}</td>${typed.join("")}<td>${cells[8]}</td></tr>`,
      );
    }
    parts.push("</table>");
  }
  for (const r of rows) {
    parts.push(
      `<h2 id="${clientAnchor(r)}">${escapeHtml(r.id || "(no id)")} <small>${escapeHtml(r.address)}</small></h2>`,
    );
    if (r.resources.length === 0) {
      parts.push("<p>subscribed to nothing</p>");
      continue;
    }
    parts.push("<table><tr><th>type</th><th>name</th><th>status</th><th>version</th><th>updated</th></tr>");
    for (const x of r.resources) {
      // What a client was sent of a cluster links to that cluster's endpoints on /clusters.
      const name =
        x.type === "EDS" || x.type === "CDS"
          ? `<a href="/clusters?format=html#${clusterAnchor(x.name)}">${escapeHtml(x.name)}</a>`
          : escapeHtml(x.name);
      parts.push(
        `<tr class="${x.status}"><td>${escapeHtml(String(x.type))}</td><td>${name}</td><td>${x.status === "NOT_SENT" ? "NOT SENT" : x.status}</td><td>${escapeHtml(x.version || "-")}</td><td>${escapeHtml(x.last_updated ?? "-")}</td></tr>`,
      );
      if (x.error) {
        parts.push(
          `<tr class="ERROR"><td colspan=5 class="nack">NACK of version ${escapeHtml(x.error.rejected_version)}${x.error.at ? ` at ${escapeHtml(x.error.at)}` : ""}: ${escapeHtml(x.error.detail)}</td></tr>`,
        );
      }
    }
    parts.push("</table>");
  }
  parts.push("</body></html>\n");
  return parts.join("\n");
}

const clientAnchor = (r: ClientRow) => `client-${encodeURIComponent(`${r.id}@${r.address}`)}`;
