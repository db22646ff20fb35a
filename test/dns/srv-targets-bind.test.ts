/**
 * SRV target rules against a real BIND 9: the target "." (RFC 2782: the service is decidedly not
 * available at this name) is never looked up and yields no target, and follow-up lookups are capped at
 * MAX_SRV_TARGET_LOOKUPS distinct targets per SRV answer, the rest left without addresses.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createResolver } from "../../src/dns/resolver.js";
import { MAX_SRV_TARGET_LOOKUPS } from "../../src/dns/srv-targets.js";
import { type BindServer, startBindServer } from "../support/bind-server.js";

const MANY = MAX_SRV_TARGET_LOOKUPS + 6;

describe("SRV targets on BIND", () => {
  let bind: BindServer;
  beforeAll(async () => {
    bind = await startBindServer({
      zones: [
        {
          origin: "example.test",
          records: [
            "_none._tcp.svc 30 IN SRV 0 0 0 .",
            "_mixed._tcp.svc 30 IN SRV 0 0 8080 .",
            "_mixed._tcp.svc 30 IN SRV 1 0 8080 host.other.test.",
            // Out-of-bailiwick targets, so each one needs follow-up A and AAAA queries.
            ...Array.from({ length: MANY }, (_, i) => `_many._tcp.svc 30 IN SRV 0 1 8080 t${i}.other.test.`),
          ].join("\n"),
        },
        {
          origin: "other.test",
          records: [
            "host 30 IN A 127.0.0.21",
            ...Array.from({ length: MANY }, (_, i) => `t${i} 30 IN A 127.0.1.${i + 1}`),
          ].join("\n"),
        },
      ],
    });
  });
  afterAll(async () => {
    await bind?.stop();
  });

  const resolverCounting = () => {
    const outcomes: string[] = [];
    const r = createResolver({
      servers: [bind.server],
      timeoutMs: 2000,
      attempts: 2,
      metrics: { query: (_s, outcome) => outcomes.push(outcome) },
    });
    return { r, outcomes };
  };

  it("a lone '.' target: the SRV record is kept, nothing is looked up, no target", async () => {
    const { r, outcomes } = resolverCounting();
    const a = await r.resolve("_none._tcp.svc.example.test", "SRV").finally(() => r.close());
    expect(a.records).toEqual([{ type: "SRV", priority: 0, weight: 0, port: 0, target: ".", ttl: 30 }]);
    expect([...(a.targets?.keys() ?? [])]).toEqual([]);
    expect(outcomes).toEqual(["answer"]);
  });

  it("'.' beside a real target: only the real one is looked up", async () => {
    const { r, outcomes } = resolverCounting();
    const a = await r.resolve("_mixed._tcp.svc.example.test", "SRV").finally(() => r.close());
    expect([...(a.targets?.keys() ?? [])]).toEqual(["host.other.test."]);
    expect(a.targets?.get("host.other.test.")?.a).toMatchObject([{ address: "127.0.0.21" }]);
    // SRV, then A (answer) and AAAA (no data) for host.other.test.
    expect(outcomes.sort()).toEqual(["answer", "answer", "nodata"]);
  });

  it(`follow-ups stop at ${MAX_SRV_TARGET_LOOKUPS} distinct targets; the others stay without addresses`, async () => {
    const { r, outcomes } = resolverCounting();
    const a = await r.resolve("_many._tcp.svc.example.test", "SRV").finally(() => r.close());
    expect(a.records).toHaveLength(MANY);
    const targets = [...(a.targets?.values() ?? [])];
    expect(targets).toHaveLength(MANY);
    expect(targets.filter((t) => t.a.length === 1)).toHaveLength(MAX_SRV_TARGET_LOOKUPS);
    expect(targets.filter((t) => t.a.length === 0 && t.aaaa.length === 0)).toHaveLength(
      MANY - MAX_SRV_TARGET_LOOKUPS,
    );
    // The SRV answer is too big for UDP (TC, then TCP); then one A and one AAAA per looked-up target.
    const count = (o: string) => outcomes.filter((x) => x === o).length;
    expect(count("truncated")).toBe(1);
    expect(count("answer")).toBe(1 + MAX_SRV_TARGET_LOOKUPS);
    expect(count("nodata")).toBe(MAX_SRV_TARGET_LOOKUPS);
    expect(outcomes).toHaveLength(2 + 2 * MAX_SRV_TARGET_LOOKUPS);
  });
});
