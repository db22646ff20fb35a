/**
 * A name too large for UDP, served by a real BIND 9 to the real `dns-eds serve` (a private build of
 * src/cli/main.ts), checked through what an operator sees: the refreshes of that name go over one kept
 * TCP connection (the admin /metrics), and a change in the zone still reaches /clusters over it.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { buildPrivate } from "../support/private-build.js";
import { waitFor } from "../support/wait-for.js";

/** 150 A records: about 2.4 KB, over the 1,232-byte EDNS size, so BIND answers UDP truncated. */
const records = (last: string) =>
  Array.from({ length: 150 }, (_, i) =>
    i === 149 ? `big IN A ${last}` : `big IN A 127.1.${Math.floor(i / 200)}.${(i % 200) + 1}`,
  ).join("\n");

let buildDir: string;
let workDir: string;
let zone: BindServer;
let child: ChildProcessWithoutNullStreams | undefined;

beforeAll(async () => {
  buildDir = await buildPrivate("serve-dns-tcp-", ["cli/main.ts", "app/serve.ts"]);
  workDir = mkdtempSync(join(tmpdir(), "dns-eds-serve-dns-tcp-"));
  zone = await startBindServer({
    zones: [{ origin: "tcp.dns-eds.test", defaultTtl: 1, records: records("127.1.9.1") }],
  });
}, 180_000);

afterAll(async () => {
  child?.kill("SIGKILL");
  await zone?.stop();
  rmSync(buildDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

/** The value of a metric line `name{labels} value`, 0 when absent. */
function metric(text: string, line: string): number {
  const found = text.split("\n").find((l) => l.startsWith(`${line} `));
  return found ? Number(found.slice(line.length + 1)) : 0;
}

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
    const proc = spawn(process.execPath, [join(buildDir, "cli", "main.js"), "serve", "--config", file], {
      cwd: workDir,
    });
    child = proc;
    let stdout = "";
    proc.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    const url = await waitFor("the admin URL in the logs", 30_000, async () => {
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"admin listening"/.exec(stdout);
      return m?.[1];
    });
    const scrape = async () => (await fetch(`${url}/metrics`)).text();
    const answers = (t: string) =>
      metric(t, `dnseds_dns_queries_total{server="${zone.server}",outcome="answer"}`);
    // The name refreshes about once a second (TTL 1): wait for five answers.
    const text = await waitFor("five answers for the big name", 30_000, async () => {
      const t = await scrape();
      return answers(t) >= 5 ? t : undefined;
    });
    // The first lookup met truncation over UDP; every answer after it came over TCP, on one connection.
    expect(metric(text, `dnseds_dns_queries_total{server="${zone.server}",outcome="truncated"}`)).toBe(1);
    expect(metric(text, `dnseds_dns_tcp_connections_opened_total{server="${zone.server}"}`)).toBe(1);
    expect(metric(text, `dnseds_dns_tcp_connections{server="${zone.server}"}`)).toBe(1);

    // One address changes in the zone: the cluster follows, still on the same connection.
    await zone.setZone({ origin: "tcp.dns-eds.test", defaultTtl: 1, records: records("127.1.9.2") });
    const big = await waitFor("the new address on /clusters", 30_000, async () => {
      const json = (await (await fetch(`${url}/clusters?format=json`)).json()) as {
        clusters: Array<{ name: string; endpoints: Array<{ address: string; health: string }> }>;
      };
      const c = json.clusters.find((x) => x.name === "big");
      return c?.endpoints.some((e) => e.address === "127.1.9.2") ? c : undefined;
    });
    // The removed address drains (drainMs) before it goes; the rest are the zone's 150.
    const serving = big.endpoints.filter((e) => e.health !== "DRAINING");
    expect(serving).toHaveLength(150);
    expect(serving.some((e) => e.address === "127.1.9.1")).toBe(false);
    const after = await scrape();
    expect(answers(after)).toBeGreaterThan(answers(text));
    // Normally still the one connection; a second only if a try outlived the 5 s timeout while named
    // reloaded (a timed-out try retires its connection), never one per refresh.
    expect(
      metric(after, `dnseds_dns_tcp_connections_opened_total{server="${zone.server}"}`),
    ).toBeLessThanOrEqual(2);

    proc.kill("SIGTERM");
    await new Promise((r) => proc.once("exit", r));
    child = undefined;
  }, 120_000);
});
