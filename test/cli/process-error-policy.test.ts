/**
 * The process-level policy of `dns-eds serve`: an unhandled rejection is logged (rate-limited) and
 * counted and the process keeps serving; an uncaught exception is logged at fatal and ends the process
 * with 1. Checked on an injected process object, then in a real Node process, where without the policy
 * Node's default would end the process on the rejection too.
 */
import { spawn } from "node:child_process";
import { EventEmitter } from "node:events";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { afterAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/admin/logger.js";
import { installProcessErrorPolicy, type ProcessErrorKind } from "../../src/cli/process-error-policy.js";
import { buildPrivate } from "../support/private-build.js";

let buildDir: string | undefined;
afterAll(() => {
  if (buildDir) rmSync(buildDir, { recursive: true, force: true });
});

function harness() {
  const lines: Array<{ level: number; msg: string; suppressed?: number; kind?: string }> = [];
  const stream = new PassThrough();
  stream.on("data", (c: Buffer) => {
    for (const l of c.toString().split("\n")) if (l.trim()) lines.push(JSON.parse(l));
  });
  const proc = new EventEmitter() as unknown as NodeJS.Process;
  const counts: ProcessErrorKind[] = [];
  const exits: number[] = [];
  let t = 0;
  const remove = installProcessErrorPolicy({
    logger: createLogger({ level: "info", destination: stream }),
    count: (k) => counts.push(k),
    proc,
    exit: (code) => exits.push(code),
    now: () => t,
  });
  return {
    lines,
    counts,
    exits,
    remove,
    emit: (event: string, value: unknown) => (proc as unknown as EventEmitter).emit(event, value),
    advance: (ms: number) => {
      t += ms;
    },
  };
}

describe("process error policy", () => {
  it("logs and counts unhandled rejections, at most 10 log lines a minute, and keeps running", async () => {
    const h = harness();
    for (let i = 0; i < 25; i++) h.emit("unhandledRejection", new Error(`lost ${i}`));
    h.advance(60_000);
    h.emit("unhandledRejection", new Error("later"));
    await new Promise((r) => setImmediate(r));
    expect(h.counts).toHaveLength(26);
    expect(h.exits).toEqual([]);
    const errors = h.lines.filter((l) => l.kind === "unhandled_rejection");
    expect(errors).toHaveLength(11);
    expect(errors[10]?.suppressed).toBe(15);
    h.remove();
  });

  it("logs an uncaught exception at fatal, counts it and exits with 1", async () => {
    const h = harness();
    h.emit("uncaughtException", new Error("boom"));
    await new Promise((r) => setTimeout(r, 50));
    expect(h.counts).toEqual(["uncaught_exception"]);
    expect(h.exits).toEqual([1]);
    expect(h.lines.find((l) => l.kind === "uncaught_exception")?.level).toBe(60);
    h.remove();
  });

  it("holds in a real Node process: a rejection does not end it, an exception does (exit 1)", async () => {
    buildDir = await buildPrivate("process-policy-", ["cli/process-error-policy.ts", "admin/logger.ts"]);
    const script = join(buildDir, "run.mjs");
    writeFileSync(
      script,
      [
        `import { installProcessErrorPolicy } from "./cli/process-error-policy.js";`,
        `import { createLogger } from "./admin/logger.js";`,
        `const counts = [];`,
        `installProcessErrorPolicy({ logger: createLogger({ level: "info", pretty: false }), count: (k) => counts.push(k) });`,
        `Promise.reject(new Error("nobody awaited me"));`,
        `setTimeout(() => { console.log(JSON.stringify({ alive: true, counts })); }, 200);`,
        `setTimeout(() => { throw new Error("boom"); }, 400);`,
        `setTimeout(() => { console.log(JSON.stringify({ stillAlive: true })); }, 2000);`,
      ].join("\n"),
    );
    const child = spawn(process.execPath, [script], { stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    child.stdout.on("data", (c: Buffer) => {
      out += c.toString();
    });
    child.stderr.on("data", (c: Buffer) => {
      out += c.toString();
    });
    const code = await new Promise<number | null>((resolve) => child.on("exit", (c) => resolve(c)));
    expect(code, out).toBe(1);
    expect(out).toContain('"alive":true');
    expect(out).toContain('"counts":["unhandled_rejection"]');
    expect(out).toMatch(/"level":60.*uncaught exception: exiting/);
    expect(out).not.toContain("stillAlive");
  }, 60_000);
});
