// Failover: with the primary blackholed every lookup still answers within one per-try timeout plus the
// backup's round trip, later lookups skip the down primary, and the primary is used again once it
// recovers (probed after its backoff). Also a stopped primary (ICMP port unreachable) fails over.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createResolver } from "../../src/dns/resolver.js";
import { aRecord, type FakeDnsServer, replyTo, startFakeDnsServer } from "./support/fake-dns-server.js";

const TIMEOUT_MS = 400;
// Time is the behaviour here (a lookup costs at most one per-try timeout), so a wall-clock bound stays,
// with a margin for scheduling on a loaded 2-core box running two test files at once: 2.5 s on top of the
// 400 ms timeout. What the margin cannot see (a second try, a second timeout) the per-lookup counts of
// query outcomes below catch exactly.
const SLACK_MS = 2_500;

describe("server failover", () => {
  let primary: FakeDnsServer;
  let backup: FakeDnsServer;
  beforeAll(async () => {
    primary = await startFakeDnsServer();
    backup = await startFakeDnsServer((q, c) => c.reply(replyTo(q, [aRecord(q.name, "127.0.0.2")])));
  });
  afterAll(async () => {
    await primary.close();
    await backup.close();
  });

  it("answers from the backup while the primary is blackholed, then returns to the primary", async () => {
    primary.setHandler(() => {});
    const failovers: string[] = [];
    const outcomes: string[] = [];
    const r = createResolver({
      servers: [primary.server, backup.server],
      timeoutMs: TIMEOUT_MS,
      attempts: 1,
      backoff: { baseMs: 300, maxMs: 1000 },
      metrics: {
        failover: (from, to) => failovers.push(`${from}>${to}`),
        query: (server, outcome) =>
          outcomes.push(`${server === primary.server ? "primary" : "backup"} ${outcome}`),
      },
    });
    try {
      for (let i = 0; i < 20; i++) {
        outcomes.length = 0;
        const t0 = performance.now();
        const a = await r.resolve(`bh${i}.test`, "A");
        expect(a.server).toBe(backup.server);
        expect(performance.now() - t0).toBeLessThan(TIMEOUT_MS + SLACK_MS);
        // At most one try on the blackholed primary (a timeout), then the backup's answer.
        expect(["backup answer", "primary timeout,backup answer"]).toContain(outcomes.join(","));
      }
      expect(failovers[0]).toBe(`${primary.server}>${backup.server}`);
      // Down-marking: the primary saw far fewer queries than there were lookups (only bounded probes).
      const primaryQueries = primary.queries.length;
      expect(primaryQueries).toBeLessThan(10);

      primary.setHandler((q, c) => c.reply(replyTo(q, [aRecord(q.name, "127.0.0.1")])));
      let back = false;
      for (let i = 0; i < 40 && !back; i++) {
        const a = await r.resolve(`rec${i}.test`, "A");
        back = a.server === primary.server;
        if (!back) await new Promise((res) => setTimeout(res, 100));
      }
      expect(back).toBe(true);
      const a = await r.resolve("after.test", "A");
      expect(a.server).toBe(primary.server);
      expect(a.records).toEqual([{ type: "A", address: "127.0.0.1", ttl: 60 }]);
    } finally {
      await r.close();
    }
  });

  it("a stopped primary (port unreachable) fails over at once", async () => {
    const gone = await startFakeDnsServer();
    const goneServer = gone.server;
    await gone.close();
    const outcomes: string[] = [];
    const r = createResolver({
      servers: [goneServer, backup.server],
      timeoutMs: 10_000,
      attempts: 1,
      metrics: {
        query: (server, outcome) => outcomes.push(`${server === goneServer ? "gone" : "backup"} ${outcome}`),
      },
    });
    try {
      const t0 = performance.now();
      const a = await r.resolve("refused.test", "A");
      expect(a.server).toBe(backup.server);
      // ECONNREFUSED arrives at once: a network error, not a timeout ...
      expect(outcomes).toEqual(["gone network", "backup answer"]);
      // ... so far less than the 10 s per-try timeout is spent (the margin is for a loaded box).
      expect(performance.now() - t0).toBeLessThan(5_000);
    } finally {
      await r.close();
    }
  });

  it("every server failing gives ERR_DNS_ALL_SERVERS_FAILED with the cause", async () => {
    primary.setHandler(() => {});
    const other = await startFakeDnsServer((q, c) => c.reply(replyTo(q, [], { rcode: "SERVFAIL" })));
    const r = createResolver({ servers: [primary.server, other.server], timeoutMs: 200, attempts: 2 });
    try {
      const err = await r.resolve("allfail.test", "A").catch((e) => e);
      expect(err.code).toBe("ERR_DNS_ALL_SERVERS_FAILED");
      expect(err.cause).toBeDefined();
    } finally {
      await r.close();
      await other.close();
    }
  });
});
