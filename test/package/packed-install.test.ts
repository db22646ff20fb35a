/**
 * The npm package as a user gets it: `npm pack` of this checkout (its built dist/), installed into an
 * empty folder with `--omit=dev`, then run as a user would under the machine's Node and under every
 * supported Node release (pinned binaries installed by scripts/prereqs/node-releases.mjs): the binary
 * (`--version`, `validate`, `serve` without a config), the library entry point (the example of
 * docs/library.md, served to a real grpc-js xDS client) and its type declarations (tsc).
 * The same install is what the Dockerfile's runtime stage does.
 */
import { execFile, spawn } from "node:child_process";
import {
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  rmSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { anyUnpack } from "@bufbuild/protobuf/wkt";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
// @ts-expect-error: a plain .mjs module of the test prerequisites (no declarations)
import { NODE_RELEASES, nodeBinOf } from "../../scripts/prereqs/node-releases.mjs";
import { ClusterLoadAssignmentSchema } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";
import { repoRoot } from "../support/private-build.js";
import { RawXdsClient } from "../xds/raw-client.js";

const run = promisify(execFile);
const pkg = JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { version: string };
let work: string;
let installDir: string;
let packedFiles: string[];

/** The machine's Node plus each pinned supported release that is installed (all of them on linux-x64). */
const nodes: Array<{ label: string; bin: string }> = [
  { label: `machine ${process.version}`, bin: process.execPath },
];
for (const v of NODE_RELEASES as string[]) {
  const bin = nodeBinOf(v) as string;
  if (existsSync(bin)) nodes.push({ label: `v${v}`, bin });
}

beforeAll(async () => {
  for (const f of ["dist/cli/main.js", "dist/index.js", "dist/index.d.ts"]) {
    if (!existsSync(join(repoRoot, f))) throw new Error(`${f} missing: run npm run build first (CI does)`);
  }
  work = mkdtempSync(join(repoRoot, ".tmp", "packed-"));
  // --ignore-scripts: pack what was built (prepare would rebuild dist/ under the other test files' feet).
  const { stdout } = await run("npm", ["pack", "--ignore-scripts", "--json", "--pack-destination", work], {
    cwd: repoRoot,
    maxBuffer: 64 * 1024 * 1024,
  });
  const packed = (JSON.parse(stdout) as Array<{ filename: string; files: Array<{ path: string }> }>)[0];
  if (!packed) throw new Error("npm pack wrote nothing");
  packedFiles = packed.files.map((f) => f.path);
  writeFileSync(
    join(work, "package.json"),
    JSON.stringify({ name: "user-app", private: true, type: "module" }),
  );
  await run(
    "npm",
    ["install", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline", join(work, packed.filename)],
    { cwd: work, timeout: 240_000, maxBuffer: 64 * 1024 * 1024 },
  );
  installDir = work;
}, 300_000);

afterAll(() => {
  if (work) rmSync(work, { recursive: true, force: true });
});

function withoutConfigEnv(): NodeJS.ProcessEnv {
  const { DNS_EDS_CONFIG: _unused, ...rest } = process.env;
  return rest;
}

async function dnsEds(node: string, args: string[]) {
  const bin = join(installDir, "node_modules", ".bin", "dns-eds");
  try {
    // The bin's `#!/usr/bin/env node` picks the Node first on PATH.
    const { stdout, stderr } = await run(bin, args, {
      cwd: installDir,
      timeout: 30_000,
      env: { ...withoutConfigEnv(), PATH: `${join(node, "..")}:${process.env.PATH}` },
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("the packed npm package", () => {
  it("ships dist with declarations, LICENSE and CHANGELOG, and no sources, tests or source maps", () => {
    for (const f of [
      "LICENSE",
      "CHANGELOG.md",
      "README.md",
      "dist/index.js",
      "dist/index.d.ts",
      "dist/cli/main.js",
    ])
      expect(packedFiles).toContain(f);
    expect(packedFiles.filter((f) => /^(src|test|bench|scripts)\//.test(f) || f.endsWith(".map"))).toEqual(
      [],
    );
    expect(readFileSync(join(repoRoot, "LICENSE"), "utf8")).toContain("Apache License");
  });

  it("installs with --omit=dev: no build tool or test dependency in node_modules", () => {
    for (const dev of [
      "typescript",
      "@bufbuild/buf",
      "@bufbuild/protoc-gen-es",
      "@grpc/grpc-js-xds",
      "vitest",
    ])
      expect(existsSync(join(installDir, "node_modules", dev)), dev).toBe(false);
    expect(existsSync(join(installDir, "node_modules", "dns-eds", "dist", "cli", "main.js"))).toBe(true);
  });

  it("npm ci --omit=dev in a checkout succeeds: prepare does not try to build without the build tools", async () => {
    // Outside this repository, whose node_modules would otherwise be found by walking up.
    const checkout = mkdtempSync(join(tmpdir(), "dns-eds-checkout-"));
    mkdirSync(join(checkout, "scripts"), { recursive: true });
    for (const f of ["package.json", "package-lock.json", "scripts/prepare.mjs"])
      copyFileSync(join(repoRoot, f), join(checkout, f));
    const r = await run("npm", ["ci", "--omit=dev", "--no-audit", "--no-fund", "--prefer-offline"], {
      cwd: checkout,
      timeout: 240_000,
      maxBuffer: 64 * 1024 * 1024,
    }).then(
      (x) => ({ code: 0, out: x.stdout + x.stderr }),
      (e: { code: number; stdout: string; stderr: string }) => ({ code: e.code, out: e.stdout + e.stderr }),
    );
    expect(r.out).toContain("prepare: devDependencies not installed");
    expect(r.code).toBe(0);
    expect(existsSync(join(checkout, "node_modules", "typescript"))).toBe(false);
    expect(existsSync(join(checkout, "node_modules", "@grpc", "grpc-js"))).toBe(true);
    rmSync(checkout, { recursive: true, force: true });
  }, 300_000);

  it("runs every supported Node release the pinned prerequisites installed", () => {
    const expected =
      process.platform === "linux" && process.arch === "x64" ? (NODE_RELEASES as string[]).length : 0;
    expect(nodes.length - 1).toBe(expected);
  });

  for (const node of nodes) {
    describe(`under Node ${node.label}`, () => {
      it("dns-eds --version, validate on the shipped example, and refusals with exit 2", async () => {
        const v = await dnsEds(node.bin, ["--version"]);
        expect(v.code).toBe(0);
        expect(v.stdout.trim()).toBe(pkg.version);
        const example = join(
          installDir,
          "node_modules",
          "dns-eds",
          "examples",
          "docker-compose",
          "dns-eds.yaml",
        );
        const ok = await dnsEds(node.bin, ["validate", "--config", example]);
        expect(ok.stderr).toContain("valid");
        expect(ok.code).toBe(0);
        writeFileSync(join(installDir, "empty.yaml"), "");
        expect((await dnsEds(node.bin, ["validate", "--config", join(installDir, "empty.yaml")])).code).toBe(
          2,
        );
        const noConfig = await dnsEds(node.bin, ["serve"]);
        expect(noConfig.code).toBe(2);
        expect(noConfig.stderr).toContain("no config");
      }, 60_000);

      it("serves the docs/library.md example to a real xDS client", async () => {
        const doc = readFileSync(join(repoRoot, "docs", "library.md"), "utf8");
        const block = /<!-- library-example[^>]*-->\n```js\n([\s\S]*?)```/.exec(doc)?.[1];
        expect(block).toBeDefined();
        const script = join(installDir, `example-${node.label.replace(/\W+/g, "-")}.mjs`);
        // Loopback only in tests: the same example on a free port, with a loopback endpoint.
        writeFileSync(
          script,
          (block ?? "").replace("127.0.0.1:18000", "127.0.0.1:0").replace("10.0.0.7", "127.0.0.7"),
        );
        const proc = spawn(node.bin, [script], { cwd: installDir });
        let out = "";
        proc.stdout.on("data", (c: Buffer) => {
          out += c.toString();
        });
        proc.stderr.on("data", (c: Buffer) => {
          out += c.toString();
        });
        const exited = new Promise<number | null>((r) => proc.on("exit", (c) => r(c)));
        try {
          let port = 0;
          for (let i = 0; i < 200 && port === 0; i++) {
            port = Number(/\{"port":(\d+)\}/.exec(out)?.[1] ?? 0);
            if (port === 0) await new Promise((r) => setTimeout(r, 50));
          }
          expect(port, out).toBeGreaterThan(0);
          const client = new RawXdsClient("sotw", port);
          try {
            client.send({ node: { id: "packed-test" }, typeUrl: TYPE_URLS.endpoint, resourceNames: ["web"] });
            const res = await client.next(10_000);
            const any = res.resources[0];
            expect(any?.typeUrl).toBe(TYPE_URLS.endpoint);
            const cla = any ? anyUnpack(any, ClusterLoadAssignmentSchema) : undefined;
            expect(cla?.clusterName).toBe("web");
            expect(cla?.endpoints[0]?.lbEndpoints[0]?.hostIdentifier.value).toMatchObject({
              address: { address: { value: { address: "127.0.0.7", portSpecifier: { value: 8080 } } } },
            });
          } finally {
            client.close();
          }
          proc.kill("SIGTERM");
          expect(await exited).toBe(0);
        } finally {
          proc.kill("SIGKILL");
        }
      }, 60_000);
    });
  }

  it("has type declarations a TypeScript user compiles against, and that reject misuse", async () => {
    const good = [
      'import { clusterLoadAssignment, createResolver, createXdsServer, ResourceStore, TYPE_URLS, type XdsServer } from "dns-eds";',
      "const store = new ResourceStore();",
      'store.publish({ upsert: [{ typeUrl: TYPE_URLS.endpoint, name: "a", resource: clusterLoadAssignment("a", []) }] });',
      "const server: XdsServer = createXdsServer({ store });",
      "void server.drain({ windowMs: 1 });",
      'const r = createResolver({ servers: ["127.0.0.1:53"] });',
      'void r.resolve("example.com", "A").then((a) => a.records.length);',
      "",
    ].join("\n");
    const bad = 'import { createResolver } from "dns-eds";\nconst n: number = createResolver({});\n';
    writeFileSync(
      join(installDir, "tsconfig.json"),
      JSON.stringify({
        compilerOptions: {
          module: "NodeNext",
          moduleResolution: "NodeNext",
          target: "ES2022",
          strict: true,
          noEmit: true,
          skipLibCheck: true,
          types: ["node"],
          typeRoots: [join(repoRoot, "node_modules", "@types")],
        },
        files: ["user.ts"],
      }),
    );
    const tsc = join(repoRoot, "node_modules", "typescript", "bin", "tsc");
    writeFileSync(join(installDir, "user.ts"), good);
    const ok = await run(process.execPath, [tsc, "-p", installDir]).then(
      () => "",
      (e: { stdout: string }) => e.stdout,
    );
    expect(ok).toBe("");
    writeFileSync(join(installDir, "user.ts"), bad);
    const err = await run(process.execPath, [tsc, "-p", installDir]).then(
      () => "",
      (e: { stdout: string }) => e.stdout,
    );
    expect(err).toContain("is not assignable to type 'number'");
  }, 60_000);
});
