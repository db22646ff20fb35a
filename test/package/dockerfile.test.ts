/**
 * The Dockerfile and the compose example that uses it. No container engine runs on the test machines,
 * so the image itself is not built here: what the runtime stage installs is exactly the packed package
 * that test/package/packed-install.test.ts installs with --omit=dev and runs under each supported Node;
 * this file checks the Dockerfile says what that test assumes and the docs promise.
 */
import { readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
// @ts-expect-error: a plain .mjs module of the test prerequisites (no declarations)
import { NODE_RELEASES } from "../../scripts/prereqs/node-releases.mjs";
import { repoRoot } from "../support/private-build.js";

const dockerfile = readFileSync(join(repoRoot, "Dockerfile"), "utf8");
const lines = dockerfile.split("\n").filter((l) => l.trim() !== "" && !l.trim().startsWith("#"));

describe("Dockerfile", () => {
  it("builds in one stage and runs the packed package, non-root, on a tested supported Node", () => {
    const image = /^ARG NODE_IMAGE=node:(\d+)-/m.exec(dockerfile)?.[1];
    const tested = (NODE_RELEASES as string[]).map((v) => v.split(".")[0]);
    expect(tested).toContain(image);
    const engines = (
      JSON.parse(readFileSync(join(repoRoot, "package.json"), "utf8")) as { engines: { node: string } }
    ).engines.node;
    expect(engines).toContain(`>=${image}`);
    expect(lines.filter((l) => l.startsWith("FROM ")).map((l) => l.split(" AS ")[1])).toEqual([
      "build",
      "runtime",
    ]);
    const runtime = lines.slice(lines.findIndex((l) => l.includes("AS runtime")));
    expect(runtime.join("\n")).toContain("npm install --global --omit=dev");
    expect(runtime.join("\n")).toMatch(/rm -rf [^\n]*\/usr\/local\/lib\/node_modules\/npm/);
    expect(runtime).toContain("USER node");
    expect(runtime).toContain('ENTRYPOINT ["dns-eds"]');
    expect(runtime).toContain('CMD ["serve", "--config", "/etc/dns-eds/config.yaml"]');
    const build = lines
      .slice(
        0,
        lines.findIndex((l) => l.includes("AS runtime")),
      )
      .join("\n");
    expect(build).toContain("npm ci");
    expect(build).toContain("npm pack --ignore-scripts");
  });

  it("is what the compose example builds and runs", () => {
    const dir = join(repoRoot, "examples", "docker-compose");
    const compose = parse(readFileSync(join(dir, "docker-compose.yaml"), "utf8")) as {
      services: Record<
        string,
        {
          build?: { context: string; dockerfile: string };
          command?: string[];
          image?: string;
          volumes?: string[];
        }
      >;
    };
    const svc = compose.services["dns-eds"];
    expect(resolve(dir, svc?.build?.context ?? "")).toBe(repoRoot);
    expect(svc?.build?.dockerfile).toBe("Dockerfile");
    expect(svc?.command).toEqual(["serve", "--config", "/etc/dns-eds/dns-eds.yaml"]);
    // The config it names is the example's own file, mounted at /etc/dns-eds.
    expect(svc?.volumes).toContain(".:/etc/dns-eds:ro");
    expect(readFileSync(join(dir, "dns-eds.yaml"), "utf8")).toContain("clusters:");
  });
});
