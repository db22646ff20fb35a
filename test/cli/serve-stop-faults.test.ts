/**
 * `dns-eds serve` must exit after a stop signal even when stopping goes wrong: a drain that throws, or a
 * control plane whose stop never returns. Both are faults no real server here produces on demand, so the
 * control plane is injected (the real one is stopped by test/e2e/reload-and-stop and test/cli/cli); the
 * admin server, config loading, signal handling and exit codes are the real ones.
 */
import { EventEmitter } from "node:events";
import { mkdtemp, rm, writeFile } from "node:fs/promises";
import { request } from "node:http";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { EXIT_FAILURE, EXIT_OK } from "../../src/cli/exit-codes.js";
import type { ControlPlaneHandle, StartServer } from "../../src/cli/serve-command.js";
import { runServe } from "../../src/cli/serve-command.js";
import { waitFor } from "../support/wait-for.js";

let dir: string;
let configPath: string;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "serve-stop-"));
  configPath = join(dir, "config.yaml");
  await writeFile(
    configPath,
    [
      'admin: { listen: "127.0.0.1:0" }',
      'xds: { listen: "127.0.0.1:0" }',
      "shutdown: { drainDelayMs: 0, drainWindowMs: 100, graceMs: 100 }",
      "clusters: []",
      "",
    ].join("\n"),
  );
});

afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

/** Starts runServe with an injected control plane; returns the admin URL it was given and the run. */
async function serveWith(handle: Partial<ControlPlaneHandle>, stopSlackMs?: number) {
  const signals = new EventEmitter();
  const errors: string[] = [];
  let adminUrl: string | undefined;
  const startServer: StartServer = async (_config, opts) => {
    adminUrl = opts.admin.url;
    return {
      stop: async () => {},
      reload: async () => {
        throw new Error("not used");
      },
      ...handle,
    };
  };
  const run = runServe({
    config: configPath,
    signals,
    logLevel: "silent",
    err: (t) => errors.push(t),
    startServer,
    ...(stopSlackMs !== undefined ? { stopSlackMs } : {}),
  });
  await waitFor("the injected control plane to start", 10_000, async () => adminUrl);
  return { signals, errors, run, adminUrl: adminUrl as string };
}

const adminAnswers = (url: string) =>
  new Promise<boolean>((resolve) => {
    const req = request(`${url}/healthz`, { method: "GET" }, (res) => {
      res.resume();
      resolve(true);
    });
    req.on("error", () => resolve(false));
    req.end();
  });

describe("dns-eds serve stopping under faults", () => {
  it("a drain that throws still closes everything and exits 1, naming the error", async () => {
    let stopped = false;
    const s = await serveWith({
      drain: async () => {
        throw new Error("drain exploded");
      },
      stop: async () => {
        stopped = true;
      },
    });
    expect(await adminAnswers(s.adminUrl)).toBe(true);
    s.signals.emit("SIGTERM");
    expect(await s.run).toBe(EXIT_FAILURE);
    expect(stopped).toBe(true);
    expect(await adminAnswers(s.adminUrl)).toBe(false);
    expect(s.errors.join("")).toMatch(/error while stopping: drain exploded/);
  });

  it("a control plane whose stop never returns: exits 1 once drain delay + window + grace + slack have passed", async () => {
    const s = await serveWith({ stop: () => new Promise<void>(() => {}) }, 200);
    const t0 = Date.now();
    s.signals.emit("SIGINT");
    expect(await s.run).toBe(EXIT_FAILURE);
    // Budget 0 + 100 + 100 + 200 ms: the exit comes after it, never before.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(390);
    expect(s.errors.join("")).toMatch(/stopping took longer than 400 ms/);
  });

  it("a clean stop exits 0", async () => {
    const s = await serveWith({});
    s.signals.emit("SIGTERM");
    expect(await s.run).toBe(EXIT_OK);
    expect(s.errors).toEqual([]);
  });
});
