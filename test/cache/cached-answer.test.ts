// The cache's one answer shape (cached-answer.ts): built field by field so every cached answer shares a
// hidden class. What must hold for a user: nothing of an answer is lost on the way into the cache.
import { describe, expect, it } from "vitest";
import { cachedAnswer } from "../../src/cache/cached-answer.js";
import type { Answer, AnswerHistory } from "../../src/dns/types.js";

describe("cachedAnswer", () => {
  it("keeps every field of an answer (a field added to Answer fails to compile here until it is copied)", () => {
    const history: AnswerHistory = {
      confirmed: { records: [{ type: "A", address: "10.0.0.1", ttl: 30 }], ttl: 30, resolvedAt: 1 },
    };
    // Required<Answer>: every optional field set, so a new field of Answer must be added here too.
    const full: Required<Answer> = {
      name: "svc.test.",
      type: "SRV",
      rcode: 0,
      records: [{ type: "SRV", priority: 1, weight: 2, port: 80, target: "a.test.", ttl: 30 }],
      ttl: 30,
      server: "127.0.0.1:53",
      resolvedAt: 1_700_000_000_000,
      stale: true,
      targets: new Map([["a.test.", { a: [{ type: "A", address: "10.0.0.1", ttl: 30 }], aaaa: [] }]]),
      targetErrors: new Map([["b.test.", "ERR_DNS_TIMEOUT: no reply"]]),
      history,
    };
    const out = cachedAnswer(full, 12, history);
    expect(out).toEqual({ ...full, ttl: 12 });
    expect(Object.isFrozen(out)).toBe(true);
  });

  it("leaves absent optional fields absent, not present as undefined", () => {
    const plain: Answer = {
      name: "a.test.",
      type: "A",
      rcode: 0,
      records: [],
      ttl: 5,
      server: "s",
      resolvedAt: 1,
      stale: false,
    };
    const out = cachedAnswer(plain, 5, undefined);
    expect(Object.keys(out).sort()).toEqual(
      ["name", "type", "rcode", "records", "ttl", "server", "resolvedAt", "stale"].sort(),
    );
  });
});
