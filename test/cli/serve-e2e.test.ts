/**
 * The operator surface on the real control plane: `dns-eds serve --config` (built from src/cli/main.ts
 * and src/app/serve.ts into a private folder) resolving names from a real BIND 9 serving the demo's
 * records, checked only through what an operator has: the admin HTTP endpoints, the config file and
 * signals.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { buildPrivate } from "../support/private-build.js";
import { waitFor } from "../support/wait-for.js";

let buildDir: string;
let workDir: string;
let zone: BindServer;
let child: ChildProcessWithoutNullStreams | undefined;

beforeAll(async () => {
  buildDir = await buildPrivate("serve-e2e-", ["cli/main.ts", "app/serve.ts"]);
  workDir = mkdtempSync(join(tmpdir(), "dns-eds-serve-e2e-"));
  // The demo zone's service records (examples/demo/demo.zone), served by BIND.
  zone = await startBindServer({
    zones: [
      {
        origin: "demo.dns-eds.test",
        defaultTtl: 5,
        records: [
          "backend-1 IN A 127.0.0.1",
          "backend-1 IN AAAA ::1",
          "backend-2 IN A 127.0.0.2",
          "backend-3 IN A 127.0.0.3",
          "echo IN A 127.0.0.1",
          "echo IN A 127.0.0.2",
          "echo IN AAAA ::1",
          "_grpc._tcp.echo IN SRV 0 10 50051 backend-1",
          "_grpc._tcp.echo IN SRV 0 10 50051 backend-2",
          "_grpc._tcp.echo IN SRV 0 10 50051 backend-3",
          'echo IN TXT "version=v1" "team=demo"',
        ].join("\n"),
      },
    ],
  });
}, 180_000);

afterAll(async () => {
  child?.kill("SIGKILL");
  await zone?.stop();
  rmSync(buildDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

interface ClustersJson {
  clusters: Array<{ name: string; endpoints: Array<{ address: string; port: number; health: string }> }>;
}

describe("dns-eds serve on the real control plane", () => {
  it("serves, reports readiness and clusters, reloads, rejects a bad reload, stops on SIGTERM", async () => {
    const configYaml = (withSrv: boolean) =>
      [
        'admin: { listen: "127.0.0.1:0" }',
        'xds: { listen: "127.0.0.1:0" }',
        `dns: { servers: ["${zone.server}"], timeoutMs: 300, minTtl: 1, allowLoopback: true }`,
        "clusters:",
        "  - name: echo",
        "    dns: { name: echo.demo.dns-eds.test, port: 50051 }",
        "    grpcListener: true",
        ...(withSrv
          ? [
              "  - name: echo-srv",
              "    srv: { name: _grpc._tcp.echo.demo.dns-eds.test }",
              "    ipFamily: ALL",
            ]
          : []),
        "",
      ].join("\n");
    const file = join(workDir, "dns-eds.yaml");
    writeFileSync(file, configYaml(false));

    const proc = spawn(process.execPath, [join(buildDir, "cli", "main.js"), "serve", "--config", file], {
      cwd: workDir,
    });
    child = proc;
    let stdout = "";
    let stderr = "";
    proc.stdout.on("data", (c: Buffer) => {
      stdout += c.toString();
    });
    proc.stderr.on("data", (c: Buffer) => {
      stderr += c.toString();
    });
    const url = await waitFor("the admin URL in the logs", 30_000, async () => {
      const m = /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"admin listening"/.exec(stdout);
      return m?.[1];
    }).catch((err: Error) => {
      throw new Error(`${err.message}\nstdout:\n${stdout}\nstderr:\n${stderr}`);
    });

    const ready = await waitFor("/readyz 200", 30_000, async () => {
      const res = await fetch(`${url}/readyz`);
      return res.status === 200 ? ((await res.json()) as { ready: boolean }) : undefined;
    });
    expect(ready.ready).toBe(true);

    const getClusters = async () =>
      (await (await fetch(`${url}/clusters?format=json`)).json()) as ClustersJson;
    const echo = (await getClusters()).clusters.find((c) => c.name === "echo");
    expect(echo?.endpoints.map((e) => e.address).sort()).toEqual(["127.0.0.1", "127.0.0.2", "::1"]);
    expect(await (await fetch(`${url}/clusters`)).text()).toContain("cluster echo");

    const dump = (await (
      await fetch(
        `${url}/config_dump?resource=dynamic_endpoint_configs&mask=endpoint_config.cluster_name,version_info`,
      )
    ).json()) as { configs: Array<{ endpoint_config: { cluster_name: string }; version_info: string }> };
    expect(dump.configs.map((c) => c.endpoint_config.cluster_name)).toContain("echo");
    expect(dump.configs[0]?.version_info).toMatch(/^[0-9a-f]{16}/);

    const metrics = await (await fetch(`${url}/metrics`)).text();
    expect(metrics).toContain(`dnseds_dns_queries_total{server="${zone.server}",outcome="answer"}`);
    expect(metrics).toContain('dnseds_endpoints{cluster="echo",health="UNKNOWN"} 3');

    // A cluster added to the file appears without a restart.
    writeFileSync(file, configYaml(true));
    const srv = await waitFor("echo-srv on /clusters", 30_000, async () => {
      const c = (await getClusters()).clusters.find((x) => x.name === "echo-srv");
      return c && c.endpoints.length === 4 ? c : undefined;
    });
    expect(srv.endpoints.every((e) => e.port === 50051)).toBe(true);

    // A bad edit keeps both clusters and is counted.
    writeFileSync(file, "clusters:\n  - name: echo\n    dns: { name: echo..demo, port: 50051 }\n");
    await waitFor("the reload error metric", 30_000, async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return text.includes("dnseds_config_reload_errors_total 1") ? true : undefined;
    });
    expect((await getClusters()).clusters.map((c) => c.name).sort()).toEqual(["echo", "echo-srv"]);

    // A change that can only apply at restart is named as such and counted as partial, never "applied".
    writeFileSync(file, configYaml(true).replace("minTtl: 1", "minTtl: 2"));
    await waitFor("the partial reload metric", 30_000, async () => {
      const text = await (await fetch(`${url}/metrics`)).text();
      return text.includes('dnseds_config_reloads_total{outcome="partial"} 1') ? text : undefined;
    }).then((text) => {
      expect(text).toContain('dnseds_config_restart_pending{key="dns.minTtl"} 1');
      expect(text).toContain('dnseds_config_reloads_total{outcome="applied"} 1');
    });
    expect(stdout).toContain("config reload partial: dns.minTtl needs a restart");

    proc.kill("SIGTERM");
    const code = await new Promise<number | null>((resolve) => proc.on("exit", (c) => resolve(c)));
    expect(code).toBe(0);
    child = undefined;
  }, 150_000);
});

describe("dns-eds resolve through the CLI", () => {
  it("answers from the given server and exits 2 on a bad name", async () => {
    const { execFile } = await import("node:child_process");
    const main = join(buildDir, "cli", "main.js");
    const cli = (args: string[]) =>
      new Promise<{ code: number; stdout: string; stderr: string }>((resolve) => {
        execFile(process.execPath, [main, ...args], { timeout: 25_000 }, (err, stdout, stderr) => {
          resolve({ code: err ? Number((err as { code?: number }).code ?? 1) : 0, stdout, stderr });
        });
      });
    const ok = await cli(["resolve", "echo.demo.dns-eds.test", "--server", zone.server]);
    expect(ok.code).toBe(0);
    expect(ok.stdout).toContain("127.0.0.2");
    expect(ok.stdout).toContain(zone.server);
    const bad = await cli(["resolve", "echo..demo", "--server", zone.server]);
    expect(bad.code).toBe(2);
  });
});
