import { createRequire } from "node:module";
import { describe, expect, it } from "vitest";
import { CallStats } from "../../src/demo/call-stats.js";
import { renderDemo } from "../../src/demo/demo-table.js";
import { demoBootstrap } from "../../src/demo/xds-load-client.js";

describe("CallStats", () => {
  it("keeps a sliding window, totals and per-phase counts on an injected clock", () => {
    let now = 0;
    const s = new CallStats(1000, () => now);
    s.setPhase("a");
    s.record("b1 127.0.0.1:1");
    s.record("b2 127.0.0.2:1");
    now = 600;
    s.record("b1 127.0.0.1:1");
    s.setPhase("b");
    now = 1500;
    s.record("error UNAVAILABLE");
    // A call that started in phase a but finished after b began still counts for a.
    s.record("b2 127.0.0.2:1", "a");
    expect(s.currentPhase).toBe("b");
    expect(s.shares()).toEqual([
      { key: "b1 127.0.0.1:1", recent: 1, total: 2 },
      { key: "b2 127.0.0.2:1", recent: 1, total: 2 },
      { key: "error UNAVAILABLE", recent: 1, total: 1 },
    ]);
    expect(s.byPhase()).toEqual([
      { phase: "a", counts: { "b1 127.0.0.1:1": 2, "b2 127.0.0.2:1": 2 } },
      { phase: "b", counts: { "error UNAVAILABLE": 1 } },
    ]);
    now = 5000;
    expect(s.shares().every((x) => x.recent === 0)).toBe(true);
  });
});

describe("renderDemo", () => {
  it("draws shares as bars, plain without color", () => {
    const lines = renderDemo(
      {
        title: "T",
        elapsedMs: 12_000,
        totalMs: 60_000,
        phase: "P",
        explain: "E",
        records: ["echo A 127.0.0.1"],
        published: ["127.0.0.1:5  priority 0  HEALTHY"],
        shares: [
          { key: "backend-1 127.0.0.1:5", recent: 3, total: 10 },
          { key: "backend-2 127.0.0.2:5", recent: 1, total: 4 },
        ],
        windowMs: 2000,
        footer: ["F"],
      },
      false,
    );
    const text = lines.join("\n");
    expect(text).not.toContain("\x1b[");
    expect(text).toContain("12 s of 60 s");
    expect(text).toMatch(/Published by dns-eds[^\n]*\n {2}127\.0\.0\.1:5 {2}priority 0 {2}HEALTHY/);
    expect(text).toMatch(/backend-1 127\.0\.0\.1:5\s+75%\s+█{23}·{7}\s+3\s+10/);
    expect(text).toMatch(/backend-2 127\.0\.0\.2:5\s+25%/);
    expect(
      renderDemo(
        {
          title: "T",
          elapsedMs: 0,
          totalMs: 1,
          phase: "",
          explain: "",
          records: [],
          published: [],
          shares: [],
          windowMs: 2000,
          footer: [],
        },
        true,
      ).join("\n"),
    ).toContain("waiting for the first response");
  });
});

describe("demo bootstrap", () => {
  it("is a bootstrap grpc-js-xds accepts", () => {
    const require = createRequire(import.meta.url);
    const { validateBootstrapConfig } = require("@grpc/grpc-js-xds/build/src/xds-bootstrap.js") as {
      validateBootstrapConfig(obj: unknown): {
        xdsServers: Array<{ server_uri: string }>;
        node: { id: string };
      };
    };
    const info = validateBootstrapConfig(JSON.parse(demoBootstrap("127.0.0.1:18000", "n1")));
    expect(info.xdsServers[0]?.server_uri).toBe("127.0.0.1:18000");
    expect(info.node.id).toBe("n1");
  });
});
