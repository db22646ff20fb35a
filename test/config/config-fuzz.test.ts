import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { parseConfigObject, parseConfigText } from "../../src/config/load-config.js";
import { seeded } from "../support/property-seed.js";

const opts = { readResolvConf: () => undefined, fileReadable: () => false };

/** Anything goes in; only a frozen config or a ConfigError with problems may come out. */
function outcome(run: () => unknown): "ok" | "config-error" {
  try {
    const c = run();
    expect(Object.isFrozen(c)).toBe(true);
    return "ok";
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    expect(err.problems.length).toBeGreaterThan(0);
    for (const p of err.problems) expect(p.message.length).toBeGreaterThan(0);
    return "config-error";
  }
}

describe("config loading never fails in any other way than ConfigError", () => {
  it("on arbitrary YAML text", () => {
    fc.assert(
      fc.property(fc.string({ maxLength: 200 }), (text) => {
        outcome(() => parseConfigText(text, opts));
      }),
      seeded({ seed: 15001, runs: 300, label: "config yaml text" }),
    );
  });

  it("on arbitrary values in every section", () => {
    const section = fc.constantFrom("xds", "admin", "dns", "cache", "healthDefaults", "clusters");
    fc.assert(
      fc.property(fc.dictionary(section, fc.anything({ maxDepth: 3 })), (raw) => {
        outcome(() => parseConfigObject(raw, opts));
      }),
      seeded({ seed: 15002, runs: 300, label: "config sections" }),
    );
  });

  it("on clusters with arbitrary field values", () => {
    const key = fc.constantFrom(
      "name",
      "dns",
      "srv",
      "static",
      "sources",
      "locality",
      "weight",
      "metadata",
      "ipFamily",
      "healthCheck",
      "selector",
      "drainMs",
    );
    const value = fc.oneof(
      fc.anything({ maxDepth: 2 }),
      fc.record({ name: fc.string(), port: fc.integer({ min: -10, max: 70_000 }) }),
      fc.constant({ name: "a.example.com", port: 80 }),
    );
    fc.assert(
      fc.property(fc.array(fc.dictionary(key, value), { maxLength: 4 }), (clusters) => {
        outcome(() => parseConfigObject({ clusters }, opts));
      }),
      seeded({ seed: 15003, runs: 300, label: "config clusters" }),
    );
  });
});

describe("YAML aliases", () => {
  it("rejects an unresolved alias and an alias bomb as ConfigError", () => {
    expect(() => parseConfigText("*!", opts)).toThrow(ConfigError);
    const bomb = [
      "a: &a [x, x, x, x, x, x, x, x, x, x]",
      "b: &b [*a, *a, *a, *a, *a, *a, *a, *a, *a, *a]",
      "c: &c [*b, *b, *b, *b, *b, *b, *b, *b, *b, *b]",
      "d: &d [*c, *c, *c, *c, *c, *c, *c, *c, *c, *c]",
      "e: [*d, *d, *d, *d, *d, *d, *d, *d, *d, *d]",
    ].join("\n");
    expect(() => parseConfigText(bomb, opts)).toThrow(/expected valid YAML/);
  });
});
