/**
 * The `dns-eds` command line (commander): serve (default), validate, resolve, status, demo, --version and
 * --log-level, with help text a newcomer can start from. The demo and the control plane are imported only
 * when they run, so `validate` and `--help` start fast and need nothing else.
 */
import { Command, Option } from "commander";
import { LOG_LEVELS, type LogLevel } from "../admin/logger.js";
import { EXIT_FAILURE } from "./exit-codes.js";
import { registerResolveCommand } from "./resolve-command.js";
import { runServe } from "./serve-command.js";
import { registerStatusCommand } from "./status-command.js";
import { runValidate } from "./validate-command.js";
import { packageVersion } from "./version.js";

const DEMO_MODULE = "../demo/demo.js";

const EXAMPLES = `
Examples:
  $ dns-eds serve --config dns-eds.yaml      serve the clusters of a config file (or DNS_EDS_CONFIG)
  $ dns-eds serve --embedded                 serve the embedded demo config (no etcd, no outside DNS)
  $ dns-eds validate --config dns-eds.yaml   check a config file (exit 0 valid, 2 invalid)
  $ dns-eds resolve payments.example.com     look a name up the way dns-eds does
  $ dns-eds demo                             watch DNS changes and failures move gRPC traffic live
  $ dns-eds status -s 10.0.0.5:18000 -s 10.0.0.6:18000   every xDS client of two replicas: SYNCED, STALE, NACKED
  $ dns-eds status my-envoy                  one client's resources, versions and NACK messages

Reload a running server's config with SIGHUP (kill -HUP PID) or by saving the file.
Admin endpoints (default http://127.0.0.1:19000): /healthz /readyz /metrics /config_dump /clusters /clients
Config reference: docs/config.md`;

export interface ProgramIo {
  out: (text: string) => void;
  err: (text: string) => void;
  /** Receives the exit code of a command (default: sets process.exitCode). */
  exit: (code: number) => void;
}

const defaultIo: ProgramIo = {
  out: (t) => process.stdout.write(t),
  err: (t) => process.stderr.write(t),
  exit: (code) => {
    process.exitCode = code;
  },
};

export async function buildProgram(io: ProgramIo = defaultIo): Promise<Command> {
  const program = new Command("dns-eds")
    .description(
      "A control plane that resolves DNS names (A/AAAA/SRV) and serves them as xDS endpoints (EDS with " +
        "CDS/LDS/RDS) to Envoy and proxyless gRPC clients.",
    )
    .version(packageVersion(), "-V, --version", "print the version")
    .addOption(
      new Option("--log-level <level>", "log level")
        .choices(LOG_LEVELS as unknown as string[])
        .default("info")
        .env("DNS_EDS_LOG_LEVEL"),
    )
    .configureOutput({ writeOut: io.out, writeErr: io.err })
    .showHelpAfterError("(run dns-eds --help for usage)")
    .addHelpText("after", EXAMPLES);

  const logLevel = () => program.opts<{ logLevel: LogLevel }>().logLevel;

  program
    .command("serve", { isDefault: true })
    .description("serve xDS for the clusters of a config file (default command); a config is required")
    .addOption(new Option("-c, --config <file>", "config file (dns-eds.yaml)").env("DNS_EDS_CONFIG"))
    .option("--embedded", "serve the embedded demo config instead (loopback demo zone; what npm start runs)")
    .action(async (opts: { config?: string; embedded?: boolean }) => {
      io.exit(
        await runServe({
          ...(opts.config !== undefined ? { config: opts.config } : {}),
          embedded: opts.embedded === true,
          logLevel: logLevel(),
          err: io.err,
        }),
      );
    });

  program
    .command("validate")
    .description("check a config file without serving: exit 0 when valid, 2 with every problem listed")
    .addOption(
      new Option("-c, --config <file>", "config file to check").env("DNS_EDS_CONFIG").makeOptionMandatory(),
    )
    .option("--print", "print the effective config (defaults applied) as JSON")
    .action(async (opts: { config: string; print?: boolean }) => {
      io.exit(await runValidate(opts.config, { print: opts.print === true }, io));
    });

  // Owned by the DNS stage (src/cli/resolve-command.ts).
  registerResolveCommand(program, io);
  registerStatusCommand(program, io);

  program
    .command("demo")
    .description("run the demo: embedded DNS zone, three backends, the control plane and a gRPC client, live")
    .action(async () => {
      try {
        const mod = (await import(DEMO_MODULE)) as { runDemo?: () => Promise<unknown> };
        if (typeof mod.runDemo !== "function") throw new Error(`${DEMO_MODULE} exports no runDemo`);
        await mod.runDemo();
        io.exit(0);
      } catch (e) {
        io.err(`dns-eds demo: ${(e as Error).message ?? String(e)}\n`);
        io.exit(EXIT_FAILURE);
      }
    });

  return program;
}
