/**
 * A name too large for UDP, served by a real BIND 9 to the real `dns-eds serve` (a private build of
 * src/cli/main.ts), checked through what an operator sees: the refreshes of that name go over one kept
 * TCP connection (the admin /metrics), and a change in the zone still reaches /clusters over it.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { buildDnsEds, type DnsEdsProcess, spawnDnsEds } from "../support/dns-eds-process.js";
import { waitFor } from "../support/wait-for.js";

/** 150 A records: about 2.4 KB, over the 1,232-byte EDNS size, so BIND answers UDP truncated. */
const records = (last: string) =>
  Array.from({ length: 150 }, (_, i) =>
    i === 149 ? `big IN A ${last}` : `big IN A 127.1.${Math.floor(i / 200)}.${(i % 200) + 1}`,
  ).join("\n");

let mainJs: string;
let workDir: string;
let zone: BindServer;
let proc: DnsEdsProcess | undefined;

beforeAll(async () => {
  mainJs = await buildDnsEds("serve-dns-tcp-");
  workDir = mkdtempSync(join(tmpdir(), "dns-eds-serve-dns-tcp-"));
  zone = await startBindServer({
    zones: [{ origin: "tcp.dns-eds.test", defaultTtl: 1, records: records("127.1.9.1") }],
  });
}, 180_000);

afterAll(async () => {
  await proc?.kill();
  await zone?.stop();
  if (mainJs) rmSync(dirname(dirname(mainJs)), { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

describe("dns-eds serve: a big name's refreshes over one kept TCP connection", () => {
  it("refreshes over one connection, and a zone change still reaches /clusters", async () => {
    const file = join(workDir, "dns-eds.yaml");
    writeFileSync(
      file,
      [
        'admin: { listen: "127.0.0.1:0" }',
        'xds: { listen: "127.0.0.1:0" }',
        `dns: { servers: ["${zone.server}"], timeoutMs: 5000, minTtl: 1, allowLoopback: true }`,
        "clusters:",
        "  - name: big",
        "    dns: { name: big.tcp.dns-eds.test, port: 8080 }",
        "",
      ].join("\n"),
    );
    const p = await spawnDnsEds({ main: mainJs, config: file, cwd: workDir, logLevel: "info" });
    proc = p;
    const server = `server="${zone.server}"`;
    const answers = () => p.metric("dnseds_dns_queries_total", `${server},outcome="answer"`);
    // The name refreshes about once a second (TTL 1): wait for five answers.
    const before = await waitFor("five answers for the big name", 30_000, async () => {
      const n = await answers();
      return n >= 5 ? n : undefined;
    });
    // The first lookup met truncation over UDP; every answer after it came over TCP, on one connection.
    expect(await p.metric("dnseds_dns_queries_total", `${server},outcome="truncated"`)).toBe(1);
    expect(await p.metric("dnseds_dns_tcp_connections_opened_total", server)).toBe(1);
    expect(await p.metric("dnseds_dns_tcp_connections", server)).toBe(1);

    // One address changes in the zone: the cluster follows, still on the same connection.
    await zone.setZone({ origin: "tcp.dns-eds.test", defaultTtl: 1, records: records("127.1.9.2") });
    const big = await waitFor("the new address on /clusters", 30_000, async () => {
      const c = await p.cluster("big");
      return c?.endpoints.some((e) => e.address === "127.1.9.2") ? c : undefined;
    });
    // The removed address drains (drainMs) before it goes; the rest are the zone's 150.
    const serving = big.endpoints.filter((e) => e.health !== "DRAINING");
    expect(serving).toHaveLength(150);
    expect(serving.some((e) => e.address === "127.1.9.1")).toBe(false);
    expect(await answers()).toBeGreaterThan(before);
    // Normally still the one connection; a second only if a try outlived the 5 s timeout while named
    // reloaded (a timed-out try retires its connection), never one per refresh.
    expect(await p.metric("dnseds_dns_tcp_connections_opened_total", server)).toBeLessThanOrEqual(2);

    expect(await p.stop()).toEqual({ code: 0, signal: null });
    proc = undefined;
  }, 120_000);
});
