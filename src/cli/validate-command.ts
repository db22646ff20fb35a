/**
 * `dns-eds validate --config FILE`: the same loading and checks as `serve`, without binding anything.
 * Exit 0 when valid, 2 with every problem listed when not; `--print` shows the effective config.
 */
import { ConfigError } from "../config/config-error.js";
import { loadConfigFile } from "../config/load-config.js";
import { EXIT_BAD_CONFIG, EXIT_OK } from "./exit-codes.js";

export interface ValidateIo {
  out: (text: string) => void;
  err: (text: string) => void;
}

export async function runValidate(file: string, opts: { print?: boolean }, io: ValidateIo): Promise<number> {
  try {
    const config = await loadConfigFile(file);
    if (opts.print) {
      // The effective config may be pasted into tickets: never print a credential.
      const redact = (key: string, value: unknown) =>
        key === "password" && typeof value === "string" ? "[redacted]" : value;
      io.out(`${JSON.stringify(config, redact, 2)}\n`);
    }
    const names = config.clusters.map((c) => c.name);
    const list =
      names.length > 0 ? `: ${names.slice(0, 20).join(", ")}${names.length > 20 ? ", ..." : ""}` : "";
    io.err(`${file}: valid, ${names.length} cluster(s)${list}\n`);
    return EXIT_OK;
  } catch (err) {
    if (err instanceof ConfigError) {
      io.err(`${err.message}\n`);
      return EXIT_BAD_CONFIG;
    }
    throw err;
  }
}
