import { EventEmitter } from "node:events";
import { mkdtempSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import type { DnsEdsConfig } from "../../src/config/config-types.js";
import { type ConfigWatcher, createConfigWatcher } from "../../src/config/config-watcher.js";
import { loadConfigFile } from "../../src/config/load-config.js";

const clusterYaml = (names: string[]) =>
  `dns: { servers: ["127.0.0.1:53"] }\nclusters:\n${names.map((n) => `  - name: ${n}\n    dns: { name: ${n}.example.com, port: 80 }\n`).join("")}`;

/** Resolves with the next value pushed, or rejects after `ms` (bounded wait, no sleeping loops). */
function nextValue<T>(ms: number): { push(v: T): void; next(): Promise<T> } {
  const queue: T[] = [];
  let waiter: ((v: T) => void) | undefined;
  return {
    push(v) {
      if (waiter) {
        const w = waiter;
        waiter = undefined;
        w(v);
      } else queue.push(v);
    },
    next() {
      const ready = queue.shift();
      if (ready !== undefined) return Promise.resolve(ready);
      return new Promise<T>((resolve, reject) => {
        const t = setTimeout(() => reject(new Error(`nothing within ${ms} ms`)), ms);
        waiter = (v) => {
          clearTimeout(t);
          resolve(v);
        };
      });
    },
  };
}

describe("config watcher", () => {
  let dir: string;
  let file: string;
  let watcher: ConfigWatcher | undefined;
  let signals: EventEmitter;
  let changes: ReturnType<typeof nextValue<DnsEdsConfig>>;
  let errors: ReturnType<typeof nextValue<unknown>>;
  const logged: string[] = [];

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), "dns-eds-watch-"));
    file = join(dir, "dns-eds.yaml");
    writeFileSync(file, clusterYaml(["a"]));
    signals = new EventEmitter();
    changes = nextValue<DnsEdsConfig>(5000);
    errors = nextValue<unknown>(5000);
    watcher = createConfigWatcher({
      path: file,
      initial: await loadConfigFile(file),
      onChange: (c) => changes.push(c),
      onReloadError: (e) => errors.push(e),
      logger: { info: (_o, m) => logged.push(`info ${m}`), error: (_o, m) => logged.push(`error ${m}`) },
      debounceMs: 50,
      signals,
    });
  });

  afterEach(() => {
    watcher?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  it("applies a valid change on the SIGHUP-equivalent call", async () => {
    writeFileSync(file, clusterYaml(["a", "b"]));
    const outcome = await watcher?.reloadNow("test");
    expect(outcome?.status).toBe("applied");
    expect((await changes.next()).clusters.map((c) => c.name)).toEqual(["a", "b"]);
    expect(watcher?.current().clusters).toHaveLength(2);
  });

  it("reloads on SIGHUP", async () => {
    writeFileSync(file, clusterYaml(["b"]));
    signals.emit("SIGHUP");
    expect((await changes.next()).clusters.map((c) => c.name)).toEqual(["b"]);
  });

  it("reports an unchanged file as unchanged and calls nobody", async () => {
    expect(await watcher?.reloadNow()).toEqual({ status: "unchanged" });
  });

  it("keeps the running config on an invalid file, logs and counts it", async () => {
    writeFileSync(file, "clusters:\n  - name: a\n    dns: { name: a.example.com, port: 70000 }\n");
    const outcome = await watcher?.reloadNow();
    expect(outcome?.status).toBe("invalid");
    const err = await errors.next();
    expect((err as { code: string }).code).toBe("ERR_CONFIG_INVALID");
    expect(String((err as Error).message)).toContain("clusters[0].dns.port: expected 1..65535, got 70000");
    expect(watcher?.current().clusters.map((c) => c.name)).toEqual(["a"]);
    expect(logged).toContain("error config reload rejected; keeping the running config");
  });

  it("follows file changes, including a replace by rename, and skips invalid saves", async () => {
    writeFileSync(file, clusterYaml(["a", "c"]));
    expect((await changes.next()).clusters.map((c) => c.name)).toEqual(["a", "c"]);

    writeFileSync(file, "clusters: [ broken");
    await errors.next();
    expect(watcher?.current().clusters.map((c) => c.name)).toEqual(["a", "c"]);

    const tmp = join(dir, ".dns-eds.yaml.tmp");
    writeFileSync(tmp, clusterYaml(["d"]));
    renameSync(tmp, file);
    expect((await changes.next()).clusters.map((c) => c.name)).toEqual(["d"]);
  });

  it("keeps the running config when applying fails, and retries on the next reload", async () => {
    watcher?.close();
    let fail = true;
    const applied: string[][] = [];
    watcher = createConfigWatcher({
      path: file,
      initial: await loadConfigFile(file),
      onChange: (c) => {
        if (fail) throw new Error("xds store rejected it");
        applied.push(c.clusters.map((x) => x.name));
      },
      onReloadError: (e) => errors.push(e),
      signals: null,
      watchFile: false,
    });
    writeFileSync(file, clusterYaml(["a", "z"]));
    const first = await watcher.reloadNow();
    expect(first.status).toBe("invalid");
    expect(String(await errors.next())).toContain("xds store rejected it");
    expect(watcher.current().clusters.map((c) => c.name)).toEqual(["a"]);
    fail = false;
    expect((await watcher.reloadNow()).status).toBe("applied");
    expect(applied).toEqual([["a", "z"]]);
  });

  it("coalesces reloads requested during a reload", async () => {
    writeFileSync(file, clusterYaml(["x"]));
    const all = await Promise.all([watcher?.reloadNow(), watcher?.reloadNow(), watcher?.reloadNow()]);
    expect(all.map((o) => o?.status)).toEqual(["applied", "unchanged", "unchanged"]);
  });
});
