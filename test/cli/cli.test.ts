/**
 * Spawns the real `dns-eds` binary: built by tsc from src/cli/main.ts into a private folder under
 * .tmp/ (so parallel test files and other stages' half-written modules do not interfere).
 */
import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { type DnsEdsProcess, spawnDnsEds } from "../support/dns-eds-process.js";
import { buildPrivate, repoRoot } from "../support/private-build.js";
import { waitFor } from "../support/wait-for.js";

const run = promisify(execFile);
const root = repoRoot;
let buildDir: string;
let mainJs: string;
let workDir: string;

beforeAll(async () => {
  buildDir = await buildPrivate("cli-build-", ["cli/main.ts", "app/serve.ts"]);
  mainJs = join(buildDir, "cli", "main.js");
  workDir = mkdtempSync(join(tmpdir(), "dns-eds-cli-"));
}, 120_000);

afterAll(() => {
  rmSync(buildDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  try {
    const { stdout, stderr } = await run(process.execPath, [mainJs, ...args], {
      cwd: workDir,
      timeout: 20_000,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

const write = (name: string, text: string) => {
  const p = join(workDir, name);
  writeFileSync(p, text);
  return p;
};

describe("dns-eds CLI", () => {
  it("prints the package version", async () => {
    const pkg = JSON.parse(readFileSync(join(root, "package.json"), "utf8")) as { version: string };
    const r = await cli(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(pkg.version);
  });

  it("prints help that lists every command and where to start", async () => {
    const r = await cli(["--help"]);
    expect(r.code).toBe(0);
    for (const word of [
      "serve",
      "validate",
      "resolve",
      "demo",
      "--log-level",
      "--version",
      "Examples:",
      "SIGHUP",
      "/readyz",
    ]) {
      expect(r.stdout).toContain(word);
    }
    const v = await cli(["validate", "--help"]);
    expect(v.stdout).toContain("--config <file>");
  });

  it("validate exits 0 on a valid file", async () => {
    const file = write(
      "ok.yaml",
      "dns: { servers: ['127.0.0.1:53'] }\nclusters:\n  - name: payments\n    dns: { name: payments.example.com, port: 8080 }\n",
    );
    const r = await cli(["validate", "--config", file]);
    expect(r.code).toBe(0);
    expect(r.stderr).toContain("valid, 1 cluster(s): payments");
    const p = await cli(["validate", "--config", file, "--print"]);
    expect(JSON.parse(p.stdout).clusters[0].sources[0]).toMatchObject({ kind: "dns", port: 8080 });
  });

  it("validate exits 2 and names every problem by path", async () => {
    const file = write(
      "bad.yaml",
      "clusters:\n  - name: a\n    dns: { name: a.example.com, port: 80 }\n  - name: b\n    dns: { name: b.example.com, port: 70000 }\n    colour: blue\n",
    );
    const r = await cli(["validate", "--config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("clusters[1].dns.port: expected 1..65535, got 70000");
    expect(r.stderr).toContain("clusters[1].colour: unknown key");
    const missing = await cli(["validate", "--config", join(workDir, "nope.yaml")]);
    expect(missing.code).toBe(2);
    expect(missing.stderr).toContain("expected a readable file, got ENOENT");
  });

  it("takes the config file from DNS_EDS_CONFIG", async () => {
    const file = write(
      "env-bad.yaml",
      "clusters:\n  - name: a\n    dns: { name: a.example.com, port: 70000 }\n",
    );
    for (const command of ["validate", "serve"]) {
      const r = await new Promise<{ code: number; stderr: string }>((resolve) => {
        execFile(
          process.execPath,
          [mainJs, command],
          { cwd: workDir, timeout: 25_000, env: { ...process.env, DNS_EDS_CONFIG: file } },
          (err, _stdout, stderr) =>
            resolve({ code: err ? Number((err as { code?: number }).code) : 0, stderr }),
        );
      });
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("clusters[0].dns.port: expected 1..65535, got 70000");
    }
  });

  it("validate without --config is a usage error", async () => {
    const r = await cli(["validate"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("--config");
  });

  it("rejects an unknown log level", async () => {
    const r = await cli(["--log-level", "loud", "validate", "--config", "x"]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain("loud");
  });

  it("serve without a config exits 2 and says how to give one, instead of starting the demo", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as AddressInfo).port;
    blocker.close();
    for (const args of [[], ["serve"]]) {
      const r = await cli(args);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("no config");
      expect(r.stderr).toContain("--config FILE (or set DNS_EDS_CONFIG)");
      expect(r.stderr).toContain("--embedded");
    }
    const both = await cli(["serve", "--embedded", "--config", write("x.yaml", "clusters: []\n")]);
    expect(both.code).toBe(2);
    expect(both.stderr).toContain("not both");
    // Nothing was bound on the way out: the port is still free to take.
    const again = createServer();
    await new Promise<void>((r, j) => again.once("error", j).listen(port, "127.0.0.1", r));
    again.close();
  });

  it("serve refuses an empty file and a file without clusters with exit 2", async () => {
    for (const [name, text] of [
      ["empty.yaml", ""],
      ["noclusters.yaml", "admin: { listen: '127.0.0.1:0' }\nxds: { listen: '127.0.0.1:0' }\n"],
    ] as const) {
      const r = await cli(["serve", "--config", write(name, text)]);
      expect(r.code).toBe(2);
      expect(r.stderr).toContain("clusters: expected a list of clusters (write `clusters: []` to serve none");
    }
    const v = await cli(["validate", "--config", write("empty2.yaml", "")]);
    expect(v.code).toBe(2);
  });

  it("serve exits 2 on a bad config without binding the admin port", async () => {
    const file = write("bad-serve.yaml", "admin: { listen: '127.0.0.1:0' }\nxds: { listen: 1 }\n");
    const r = await cli(["serve", "--config", file]);
    expect(r.code).toBe(2);
    expect(r.stderr).toContain("xds.listen:");
    expect(r.stdout).not.toContain("admin listening");
  });
});

describe("dns-eds serve with the real control plane", () => {
  let bind: BindServer;
  let proc: DnsEdsProcess | undefined;
  beforeAll(async () => {
    bind = await startBindServer({
      zones: [
        {
          origin: "cli.test",
          records: ["a 1 IN A 127.0.0.5", "b 1 IN A 127.0.0.6", "c 1 IN A 127.0.0.7"].join("\n"),
        },
      ],
    });
  }, 60_000);
  afterAll(async () => {
    await proc?.kill();
    await bind?.stop();
  });

  it("exits 1 with the reason when the admin port is taken", async () => {
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(0, "127.0.0.1", r));
    const port = (blocker.address() as AddressInfo).port;
    try {
      const file = write(
        "busy.yaml",
        `admin: { listen: "127.0.0.1:${port}" }\ndns: { servers: ["127.0.0.1:53"] }\nclusters: []\n`,
      );
      const r = await cli(["serve", "--config", file]);
      expect(r.code).toBe(1);
      expect(r.stderr).toContain(`admin server cannot listen on 127.0.0.1:${port}`);
    } finally {
      blocker.close();
    }
  });

  it("starts admin and xDS, reloads on change, counts a bad reload and an unchanged SIGHUP, stops on SIGTERM", async () => {
    const clusterYaml = (names: string[]) =>
      `admin: { listen: "127.0.0.1:0" }\nxds: { listen: "127.0.0.1:0" }\ndns: { servers: ["${bind.server}"], minTtl: 1, allowLoopback: true }\nclusters:\n${names
        .map((n) => `  - name: ${n}\n    dns: { name: ${n}.cli.test, port: 80 }\n`)
        .join("")}`;
    const file = write("serve.yaml", clusterYaml(["a"]));
    const p = await spawnDnsEds({ main: mainJs, config: file, cwd: workDir });
    proc = p;
    const names = async () =>
      (await p.clusters()).map((c) => `${c.name} ${c.endpoints.map((e) => e.address).join()}`);
    expect((await fetch(`${p.adminUrl}/healthz`)).status).toBe(200);
    await waitFor("/readyz 200", 30_000, async () => ((await p.readyz()).status === 200 ? true : undefined));
    expect(await names()).toEqual(["a 127.0.0.5"]);
    const dump = JSON.stringify(await (await fetch(`${p.adminUrl}/config_dump`)).json());
    expect(dump).toContain("127.0.0.5");

    let mark = p.mark();
    writeFileSync(file, clusterYaml(["a", "b"]));
    const reloaded = await p.waitLog((l) => Array.isArray(l.applied), "reload after file change", mark);
    expect(reloaded.applied).toEqual(["clusters"]);
    await waitFor("b on /clusters", 20_000, async () =>
      (await names()).join("|") === "a 127.0.0.5|b 127.0.0.6" ? true : undefined,
    );

    mark = p.mark();
    writeFileSync(file, "clusters: [ {name: x, dns: {name: x.example.com, port: 0}} ]\n");
    const rejected = await p.waitLog(
      (l) => l.msg === "config reload rejected; keeping the running config",
      "bad reload",
      mark,
    );
    expect(rejected.component).toBe("config");
    expect(await p.metric("dnseds_config_reload_errors_total")).toBe(1);
    expect(await p.metric("dnseds_config_reloads_total", 'outcome="applied"')).toBe(1);
    expect(await names()).toEqual(["a 127.0.0.5", "b 127.0.0.6"]);

    mark = p.mark();
    writeFileSync(file, clusterYaml(["c"]));
    await p.waitLog((l) => Array.isArray(l.applied), "reload to c", mark);
    await waitFor("only c on /clusters", 20_000, async () =>
      (await names()).join("|") === "c 127.0.0.7" ? true : undefined,
    );
    p.signal("SIGHUP"); // unchanged content: no reload, counted as unchanged, and SIGHUP must not kill the process
    await waitFor("the unchanged reload counted", 10_000, async () =>
      (await p.metric("dnseds_config_reloads_total", 'outcome="unchanged"')) === 1 ? true : undefined,
    );
    expect(p.running()).toBe(true);
    expect(await p.metric("dnseds_config_reloads_total", 'outcome="applied"')).toBe(2);
    expect(await p.stop()).toEqual({ code: 0, signal: null });
    proc = undefined;
  }, 120_000);
});

describe("loading a config off the event loop (built module, worker thread)", () => {
  it("returns the same frozen config as the in-thread loader, and ConfigError with problems", async () => {
    const off = (await import(join(buildDir, "config", "load-config-off-thread.js"))) as {
      loadConfigFileOffThread: (p: string) => Promise<unknown>;
    };
    const inThread = (await import(join(buildDir, "config", "load-config.js"))) as {
      loadConfigFile: (p: string) => Promise<unknown>;
    };
    const good = write(
      "off-thread.yaml",
      "dns: { servers: ['127.0.0.1:53'] }\nclusters:\n  - name: a\n    srv: { name: _grpc._tcp.a.example.com }\n",
    );
    const config = await off.loadConfigFileOffThread(good);
    expect(config).toEqual(await inThread.loadConfigFile(good));
    expect(Object.isFrozen((config as { clusters: unknown[] }).clusters[0])).toBe(true);

    const bad = write(
      "off-thread-bad.yaml",
      "clusters:\n  - name: a\n    dns: { name: a.example.com, port: 70000 }\n",
    );
    const err = (await off.loadConfigFileOffThread(bad).catch((e: unknown) => e)) as {
      code: string;
      problems: Array<{ path: string; message: string }>;
      message: string;
    };
    expect(err.code).toBe("ERR_CONFIG_INVALID");
    expect(err.problems).toEqual([{ path: "clusters[0].dns.port", message: "expected 1..65535, got 70000" }]);
    expect(err.message).toContain(bad);
  });
});
