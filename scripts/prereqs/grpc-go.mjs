// Builds test/peers/grpc-go-client (a proxyless grpc-go xDS client the test/grpc-go suite runs) into
// .tmp/tools/grpc-go-client/ with the machine's Go, modules from the Go module proxy, checked against the
// committed go.sum. The grpc-go version is pinned in that go.mod (google.golang.org/grpc v1.85.0, which
// needs Go ≥ 1.26). A stamp over the sources, go.mod, go.sum and `go version` makes a second run a hash
// check; any change to them rebuilds.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
const src = join(root, "test", "peers", "grpc-go-client");
const outDir = join(root, ".tmp", "tools", "grpc-go-client");
const bin = join(outDir, "grpc-go-client");
const stampFile = join(outDir, "stamp");
const MIN_GO = [1, 26];

function fail(step, detail, byHand) {
  return new Error(
    `grpc-go client: step "${step}" failed: ${detail}\n  by hand: ${byHand ?? `cd ${src} && go build -o ${bin} .`}`,
  );
}

function goVersion() {
  const r = spawnSync("go", ["version"], { encoding: "utf8" });
  if (r.error || r.status !== 0) {
    throw fail(
      "find go",
      `\`go version\` did not run (${r.error?.message ?? r.stderr.trim()})`,
      `install Go ≥ ${MIN_GO.join(".")} and put \`go\` on PATH`,
    );
  }
  const m = /go(\d+)\.(\d+)/.exec(r.stdout);
  const [maj, min] = m ? [Number(m[1]), Number(m[2])] : [0, 0];
  if (maj < MIN_GO[0] || (maj === MIN_GO[0] && min < MIN_GO[1])) {
    throw fail(
      "check go version",
      `${r.stdout.trim()} is older than go${MIN_GO.join(".")}, which google.golang.org/grpc v1.85.0 needs`,
      `install Go ≥ ${MIN_GO.join(".")}`,
    );
  }
  return r.stdout.trim();
}

function stampOf(version) {
  const h = createHash("sha256").update(version);
  const files = readdirSync(src)
    .filter((f) => f.endsWith(".go") || f === "go.mod" || f === "go.sum")
    .sort();
  for (const f of files) h.update(`\0${f}\0`).update(readFileSync(join(src, f)));
  return h.digest("hex");
}

export async function ensure() {
  const version = goVersion();
  const stamp = stampOf(version);
  if (existsSync(bin) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return;

  mkdirSync(outDir, { recursive: true });
  // -mod=readonly: go.mod and go.sum are the pin; a build that wants to change them fails instead.
  // GOTOOLCHAIN=local: never fetch another Go toolchain; the version check above says what is missing.
  const env = {
    ...process.env,
    GOFLAGS: `${process.env.GOFLAGS ?? ""} -mod=readonly -buildvcs=false`.trim(),
    GOTOOLCHAIN: "local",
  };
  const run = (step, args) => {
    try {
      execFileSync("go", args, { cwd: src, env, stdio: ["ignore", "inherit", "pipe"], encoding: "utf8" });
    } catch (err) {
      const stderr =
        typeof err?.stderr === "string" ? err.stderr.trim().split("\n").slice(-15).join("\n") : "";
      throw fail(
        step,
        `go ${args.join(" ")}: ${stderr || (err instanceof Error ? err.message : String(err))}`,
      );
    }
  };
  const started = Date.now();
  console.error(
    "test-prereqs: building the grpc-go xDS client (a cold build fetches modules and compiles grpc-go: 1–3 min)",
  );
  run("download modules from the Go module proxy", ["mod", "download"]);
  const tmp = `${bin}.tmp-${process.pid}`;
  try {
    run("go build", ["build", "-trimpath", "-o", tmp, "."]);
    renameSync(tmp, bin);
  } finally {
    rmSync(tmp, { force: true });
  }
  // A cheap smoke run: with no target the program prints its usage and exits 2.
  const smoke = spawnSync(bin, [], { encoding: "utf8" });
  if (smoke.status !== 2 || !smoke.stderr.includes("usage")) {
    throw fail(
      "run the built client",
      `expected usage and exit 2, got exit ${smoke.status}: ${smoke.stderr}`,
    );
  }
  writeFileSync(stampFile, stamp);
  console.error(`test-prereqs: grpc-go client built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
}
