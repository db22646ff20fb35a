/**
 * The one error a bad config file produces. Its message lists every problem on its own line as
 * `path: expectation, got actual`, so an operator can fix the whole file in one pass.
 */

export interface ConfigProblem {
  /** Where in the file, e.g. `clusters[1].dns.port` ("" for the whole file). */
  path: string;
  /** What was expected and what was found, e.g. `expected 1..65535, got 70000`. */
  message: string;
}

export class ConfigError extends Error {
  readonly code = "ERR_CONFIG_INVALID";
  readonly problems: readonly ConfigProblem[];
  /** File path or other label of where the config came from. */
  readonly source: string;

  constructor(source: string, problems: readonly ConfigProblem[]) {
    const lines = problems.map((p) => `  ${p.path === "" ? "(file)" : p.path}: ${p.message}`);
    super(`invalid config ${source}:\n${lines.join("\n")}`);
    this.name = "ConfigError";
    this.problems = problems;
    this.source = source;
  }
}

/** Renders a path of keys and indexes the way it reads in YAML: `clusters[1].dns.port`. */
export function formatPath(path: ReadonlyArray<PropertyKey>): string {
  let out = "";
  for (const key of path) {
    if (typeof key === "number") out += `[${key}]`;
    else if (typeof key === "string" && /^[A-Za-z_][A-Za-z0-9_-]*$/.test(key))
      out += out === "" ? key : `.${key}`;
    else out += `[${JSON.stringify(String(key))}]`;
  }
  return out;
}
