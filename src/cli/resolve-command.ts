/**
 * `dns-eds resolve NAME [--type A|AAAA|SRV|TXT] [--server HOST:PORT]...`: one lookup through the same
 * hardened resolver the control plane uses (no cache), printing the records with their raw TTLs, the
 * answering server and the rcode, so an operator can see exactly what dns-eds sees.
 */
import { type Command, Option } from "commander";
import { DnsError } from "../dns/dns-error.js";
import { createResolver, type ResolverOptions } from "../dns/resolver.js";
import type { Answer, DnsRecord, RecordType } from "../dns/types.js";
import { EXIT_BAD_CONFIG, EXIT_FAILURE, EXIT_OK } from "./exit-codes.js";

export interface ResolveCommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
  exit: (code: number) => void;
}

const RCODE_NAMES: Record<number, string> = { 0: "NOERROR", 3: "NXDOMAIN" };

function recordText(owner: string, r: DnsRecord): string {
  switch (r.type) {
    case "A":
    case "AAAA":
      return `${owner}\t${r.ttl}\t${r.type}\t${r.address}`;
    case "SRV":
      return `${owner}\t${r.ttl}\tSRV\t${r.priority} ${r.weight} ${r.port} ${r.target}`;
    case "TXT":
      return `${owner}\t${r.ttl}\tTXT\t${r.strings.map((s) => JSON.stringify(s)).join(" ")}`;
  }
}

/** Human-readable answer, one record per line (dig-like, tab-separated). */
export function formatAnswer(a: Answer, elapsedMs: number): string {
  const rcode = RCODE_NAMES[a.rcode] ?? `RCODE${a.rcode}`;
  const kind = a.records.length > 0 ? `answer TTL ${a.ttl} s` : `negative TTL ${a.ttl} s`;
  const lines = [
    `;; ${a.name} ${a.type} from ${a.server} in ${elapsedMs.toFixed(1)} ms: ${rcode}, ${a.records.length} record(s), ${kind}`,
  ];
  for (const r of a.records) lines.push(recordText(a.name, r));
  if (a.targets) {
    for (const [target, addrs] of a.targets) {
      lines.push(`;; target ${target}`);
      for (const r of [...addrs.a, ...addrs.aaaa]) lines.push(recordText(target, r));
      const failed = a.targetErrors?.get(target);
      if (failed) lines.push(`;;   (lookup failed: ${failed})`);
      else if (addrs.a.length + addrs.aaaa.length === 0) lines.push(";;   (no addresses)");
    }
  }
  return `${lines.join("\n")}\n`;
}

function answerJson(a: Answer): unknown {
  return {
    ...a,
    ...(a.targets ? { targets: Object.fromEntries(a.targets) } : {}),
    ...(a.targetErrors ? { targetErrors: Object.fromEntries(a.targetErrors) } : {}),
  };
}

interface ResolveCliOptions {
  type: RecordType;
  server?: string[];
  timeout?: string;
  attempts?: string;
  use0x20?: boolean;
  json?: boolean;
}

export function registerResolveCommand(program: Command, io?: ResolveCommandIo): void {
  const out = io?.out ?? ((t: string) => process.stdout.write(t));
  const err = io?.err ?? ((t: string) => process.stderr.write(t));
  const exit =
    io?.exit ??
    ((code: number) => {
      process.exitCode = code;
    });
  program
    .command("resolve <name>")
    .description("look a name up the way dns-eds does (no cache): records, raw TTLs, answering server")
    .addOption(
      new Option("-t, --type <type>", "record type").choices(["A", "AAAA", "SRV", "TXT"]).default("A"),
    )
    .option(
      "-s, --server <host:port>",
      "DNS server, repeatable, tried in order (default: /etc/resolv.conf)",
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .option("--timeout <ms>", "per-try timeout in ms (default: resolv.conf, else 2000)")
    .option("--attempts <n>", "rounds over the server list (default: resolv.conf, else 2)")
    .option("--use-0x20", "randomise the query name's case and check it in the reply")
    .option("--json", "print the answer as JSON")
    .action(async (name: string, opts: ResolveCliOptions) => {
      let resolver: ReturnType<typeof createResolver> | undefined;
      try {
        const ro: ResolverOptions = {};
        if (opts.server) ro.servers = opts.server;
        if (opts.timeout !== undefined) ro.timeoutMs = Number(opts.timeout);
        if (opts.attempts !== undefined) ro.attempts = Number(opts.attempts);
        if (opts.use0x20) ro.use0x20 = true;
        resolver = createResolver(ro);
        const t0 = performance.now();
        const answer = await resolver.resolve(name, opts.type);
        const elapsed = performance.now() - t0;
        out(opts.json ? `${JSON.stringify(answerJson(answer), null, 2)}\n` : formatAnswer(answer, elapsed));
        exit(EXIT_OK);
      } catch (e) {
        if (e instanceof DnsError) {
          err(`dns-eds resolve: ${e.code}: ${e.message}\n`);
          exit(
            e.code === "ERR_DNS_BAD_NAME" || e.code === "ERR_DNS_BAD_CONFIG" ? EXIT_BAD_CONFIG : EXIT_FAILURE,
          );
        } else {
          err(`dns-eds resolve: ${(e as Error).message ?? String(e)}\n`);
          exit(EXIT_FAILURE);
        }
      } finally {
        await resolver?.close();
      }
    });
}
