import { PassThrough } from "node:stream";
import { describe, expect, it } from "vitest";
import { componentLogger, createLogger } from "../../src/admin/logger.js";

describe("logger", () => {
  it("writes JSON lines with the component of a child logger and redacts passwords", async () => {
    const out = new PassThrough();
    const chunks: string[] = [];
    out.on("data", (c: Buffer) => chunks.push(c.toString()));
    const root = createLogger({ level: "debug", destination: out });
    const dns = componentLogger(root, "dns");
    dns.debug({ server: "127.0.0.1:53" }, "query sent");
    componentLogger(root, "cache").info(
      { etcd: { auth: { username: "u", password: "hunter2" } } },
      "etcd configured",
    );
    root.trace("not at this level");
    await new Promise((r) => setImmediate(r));
    const lines = chunks
      .join("")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatchObject({
      level: 20,
      component: "dns",
      server: "127.0.0.1:53",
      msg: "query sent",
    });
    expect(typeof lines[0].time).toBe("string");
    expect(lines[1].etcd.auth).toEqual({ username: "u", password: "[redacted]" });
    expect(chunks.join("")).not.toContain("hunter2");
  });
});
