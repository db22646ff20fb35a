/**
 * Renders the demo's live view as plain text: what the demo just did, the DNS records behind the
 * name, and how the client's calls spread across endpoints. No TUI library: the caller clears the
 * screen and writes these lines, or prints them once per phase when stdout is not a terminal.
 */
import type { EndpointShare } from "./call-stats.js";

export interface DemoView {
  title: string;
  elapsedMs: number;
  totalMs: number;
  phase: string;
  /** What changed and what to watch for. */
  explain: string;
  /** DNS records of the demo name, as `TYPE value` lines. */
  records: string[];
  /** What dns-eds publishes for the cluster (`address priority health` lines); empty if unknown. */
  published: string[];
  shares: EndpointShare[];
  windowMs: number;
  footer: string[];
}

const BAR_WIDTH = 30;

export function renderDemo(v: DemoView, color: boolean): string[] {
  const bold = (s: string) => (color ? `\x1b[1m${s}\x1b[0m` : s);
  const dim = (s: string) => (color ? `\x1b[2m${s}\x1b[0m` : s);
  const red = (s: string) => (color ? `\x1b[31m${s}\x1b[0m` : s);
  const lines: string[] = [];
  lines.push(bold(v.title));
  lines.push(
    dim(`${Math.round(v.elapsedMs / 1000)} s of ${Math.round(v.totalMs / 1000)} s — Ctrl-C to stop`),
  );
  lines.push("");
  lines.push(`${bold("Now:")} ${v.phase}`);
  lines.push(`     ${v.explain}`);
  lines.push("");
  lines.push(bold("DNS (embedded authoritative server):"));
  for (const r of v.records) lines.push(`  ${r}`);
  lines.push("");
  if (v.published.length > 0) {
    lines.push(bold("Published by dns-eds (EDS, cluster echo):"));
    for (const p of v.published) lines.push(`  ${p}`);
    lines.push("");
  }
  const recentTotal = v.shares.reduce((a, s) => a + s.recent, 0);
  lines.push(bold(`Calls from the proxyless gRPC client (last ${v.windowMs / 1000} s):`));
  const width = Math.max(24, ...v.shares.map((s) => s.key.length));
  lines.push(
    dim(
      `  ${"endpoint".padEnd(width)}  ${"share".padStart(6)}  ${"".padEnd(BAR_WIDTH)}  ${"recent".padStart(6)}  ${"total".padStart(7)}`,
    ),
  );
  for (const s of v.shares) {
    const share = recentTotal > 0 ? s.recent / recentTotal : 0;
    const bar = "█".repeat(Math.round(share * BAR_WIDTH)).padEnd(BAR_WIDTH, "·");
    const row = `  ${s.key.padEnd(width)}  ${`${Math.round(share * 100)}%`.padStart(6)}  ${bar}  ${String(s.recent).padStart(6)}  ${String(s.total).padStart(7)}`;
    lines.push(s.key.startsWith("error") ? red(row) : s.recent === 0 ? dim(row) : row);
  }
  if (v.shares.length === 0)
    lines.push(dim("  (waiting for the first response: the client is fetching LDS → RDS → CDS → EDS)"));
  lines.push("");
  for (const f of v.footer) lines.push(dim(f));
  return lines;
}
