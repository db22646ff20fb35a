/**
 * `dns-eds status [CLIENT]`: fleet status over CSDS, like `istioctl proxy-status`. Asks every replica
 * given with `--server` (default 127.0.0.1:18000) in parallel, merges their clients (each client once:
 * see mergeReplicaRows) and prints one row per client, or one client's resources in detail with its
 * NACK messages; `--output json` for tools. Exit 0 when every replica answered (and CLIENT was found),
 * 1 otherwise, with the failing replicas named on stderr.
 */
import { readFileSync } from "node:fs";
import { type Command, Option } from "commander";
import {
  type ClientRow,
  clientRows,
  mergeReplicaRows,
  renderClientDetail,
  renderClientsText,
} from "../admin/clients-page.js";
import { type CsdsTls, fetchClientStatus } from "./csds-client.js";
import { EXIT_FAILURE, EXIT_OK } from "./exit-codes.js";

export interface StatusCommandIo {
  out: (text: string) => void;
  err: (text: string) => void;
  exit: (code: number) => void;
}

interface StatusCliOptions {
  server?: string[];
  output: "text" | "json";
  zone?: string;
  ca?: string;
  cert?: string;
  key?: string;
  timeout: string;
}

export const DEFAULT_XDS_SERVER = "127.0.0.1:18000";

export function registerStatusCommand(program: Command, io: StatusCommandIo): void {
  program
    .command("status [client]")
    .description(
      "show every xDS client of one or more replicas (CSDS): SYNCED, STALE(age), NACKED or NOT SENT per type; with CLIENT, that client's resources and NACK messages",
    )
    .option(
      "-s, --server <host:port>",
      `a replica's xDS address, repeatable (default ${DEFAULT_XDS_SERVER})`,
      (v: string, prev: string[] | undefined) => [...(prev ?? []), v],
    )
    .addOption(new Option("-o, --output <format>", "output format").choices(["text", "json"]).default("text"))
    .option("--zone <zone>", "only clients in this locality zone")
    .option("--ca <file>", "CA certificate: talk TLS to the replicas")
    .option("--cert <file>", "client certificate (with --key), e.g. an operator identity")
    .option("--key <file>", "client private key")
    .option("--timeout <ms>", "per-replica deadline in ms", "5000")
    .action(async (client: string | undefined, opts: StatusCliOptions) => {
      io.exit(await runStatus(client, opts, io));
    });
}

async function runStatus(
  client: string | undefined,
  opts: StatusCliOptions,
  io: StatusCommandIo,
): Promise<number> {
  const servers = opts.server && opts.server.length > 0 ? opts.server : [DEFAULT_XDS_SERVER];
  let tls: CsdsTls | undefined;
  try {
    if (opts.ca || opts.cert || opts.key) {
      tls = {
        ...(opts.ca ? { ca: readFileSync(opts.ca) } : {}),
        ...(opts.cert ? { cert: readFileSync(opts.cert) } : {}),
        ...(opts.key ? { key: readFileSync(opts.key) } : {}),
      };
    }
  } catch (e) {
    io.err(`dns-eds status: ${(e as Error).message}\n`);
    return EXIT_FAILURE;
  }
  const timeoutMs = Number(opts.timeout);
  const matchers = [
    ...(client !== undefined
      ? [{ nodeId: { matchPattern: { case: "exact" as const, value: client } } }]
      : []),
  ];
  const zoneMatcher =
    opts.zone !== undefined
      ? [
          {
            path: ["dns_eds", "locality", "zone"].map((key) => ({
              segment: { case: "key" as const, value: key },
            })),
            value: {
              matchPattern: {
                case: "stringMatch" as const,
                value: { matchPattern: { case: "exact" as const, value: opts.zone } },
              },
            },
          },
        ]
      : [];
  const nodeMatchers =
    matchers.length > 0 || zoneMatcher.length > 0
      ? [{ ...(matchers[0] ?? {}), nodeMetadatas: zoneMatcher }]
      : [];
  const results = await Promise.allSettled(
    servers.map((s) =>
      fetchClientStatus(s, {
        request: { nodeMatchers },
        timeoutMs: Number.isFinite(timeoutMs) && timeoutMs > 0 ? timeoutMs : 5_000,
        ...(tls ? { tls } : {}),
      }),
    ),
  );
  const now = Date.now();
  const perReplica: ClientRow[][] = [];
  const errors: Array<{ replica: string; error: string }> = [];
  results.forEach((r, i) => {
    const replica = servers[i] as string;
    if (r.status === "fulfilled") perReplica.push(clientRows(r.value.config, replica, now));
    else errors.push({ replica, error: (r.reason as Error).message });
  });
  const rows = mergeReplicaRows(perReplica);
  for (const e of errors) io.err(`dns-eds status: ${e.error}\n`);
  if (opts.output === "json") {
    io.out(`${JSON.stringify({ clients: rows, errors }, null, 2)}\n`);
  } else if (client !== undefined) {
    if (rows.length === 0) io.err(`dns-eds status: no client ${client} on ${servers.join(", ")}\n`);
    else io.out(rows.map(renderClientDetail).join("\n"));
  } else {
    io.out(renderClientsText(rows));
  }
  if (errors.length > 0) return EXIT_FAILURE;
  if (client !== undefined && rows.length === 0) return EXIT_FAILURE;
  return EXIT_OK;
}
