// Tools for the Helm chart tests (test/chart/): the helm CLI, pinned to helm.sh/helm/v3 v3.22.0 by
// test/peers/helm/go.mod, and test/peers/k8s-strict-decode (decodes rendered manifests strictly into the
// k8s.io/api v0.37.2 types), both built with the machine's Go from the Go module proxy, checked against
// their committed go.sum, into .tmp/tools/. A stamp over each module's files and `go version` makes a
// second run a hash check. A cold helm build compiles the Kubernetes client libraries: 2–5 minutes.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const HELM_VERSION = "v3.22.0";

const TOOLS = [
  {
    name: "helm",
    src: join(root, "test", "peers", "helm"),
    pkg: "helm.sh/helm/v3/cmd/helm",
    // helm prints its version from this variable; without it, `helm version` says only "v3.22".
    ldflags: `-X helm.sh/helm/v3/internal/version.version=${HELM_VERSION}`,
    smoke: (bin) => {
      const r = spawnSync(bin, ["version", "--short"], { encoding: "utf8" });
      return r.status === 0 && r.stdout.startsWith(HELM_VERSION)
        ? ""
        : `helm version: ${r.stdout}${r.stderr}`;
    },
  },
  {
    name: "k8s-strict-decode",
    src: join(root, "test", "peers", "k8s-strict-decode"),
    pkg: ".",
    ldflags: "",
    smoke: (bin) => {
      const r = spawnSync(bin, [], { input: "", encoding: "utf8" });
      return r.status === 1 && r.stderr.includes("no object")
        ? ""
        : `expected "no object", exit 1: ${r.stderr}`;
    },
  },
];

export const toolBin = (name) => join(root, ".tmp", "tools", name, name);

function goVersion() {
  const r = spawnSync("go", ["version"], { encoding: "utf8" });
  if (r.error || r.status !== 0)
    throw new Error(
      `step "find go" failed: \`go version\` did not run; install Go ≥ 1.26 and put it on PATH`,
    );
  return r.stdout.trim();
}

function stampOf(tool, version) {
  const h = createHash("sha256").update(version).update(tool.ldflags);
  for (const f of readdirSync(tool.src).sort()) {
    if (f.endsWith(".go") || f === "go.mod" || f === "go.sum")
      h.update(`\0${f}\0`).update(readFileSync(join(tool.src, f)));
  }
  return h.digest("hex");
}

export async function ensure() {
  const version = goVersion();
  for (const tool of TOOLS) {
    const bin = toolBin(tool.name);
    const stampFile = join(dirname(bin), "stamp");
    const stamp = stampOf(tool, version);
    if (existsSync(bin) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) continue;
    mkdirSync(dirname(bin), { recursive: true });
    const env = {
      ...process.env,
      GOFLAGS: `${process.env.GOFLAGS ?? ""} -mod=readonly -buildvcs=false`.trim(),
      GOTOOLCHAIN: "local",
    };
    const started = Date.now();
    console.error(`test-prereqs: k8s-tools: building ${tool.name} (a cold build of helm takes minutes)`);
    const tmp = `${bin}.tmp-${process.pid}`;
    try {
      execFileSync("go", ["mod", "download"], { cwd: tool.src, env, stdio: ["ignore", "inherit", "pipe"] });
      execFileSync("go", ["build", "-trimpath", "-ldflags", tool.ldflags, "-o", tmp, tool.pkg], {
        cwd: tool.src,
        env,
        stdio: ["ignore", "inherit", "pipe"],
      });
      renameSync(tmp, bin);
    } catch (err) {
      const stderr = err?.stderr ? String(err.stderr).trim().split("\n").slice(-15).join("\n") : String(err);
      throw new Error(
        `${tool.name}: step "go build ${tool.pkg}" failed: ${stderr}\n  by hand: cd ${tool.src} && go build -o ${bin} ${tool.pkg}`,
      );
    } finally {
      rmSync(tmp, { force: true });
    }
    const problem = tool.smoke(bin);
    if (problem) throw new Error(`${tool.name}: step "run the built binary" failed: ${problem}`);
    writeFileSync(stampFile, stamp);
    console.error(
      `test-prereqs: k8s-tools: ${tool.name} built in ${((Date.now() - started) / 1000).toFixed(1)} s`,
    );
  }
}
