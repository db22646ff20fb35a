// Builds one Go program of test/peers/ (a real peer the tests run: a grpc-go xDS client, a CSDS client)
// into .tmp/tools/<name>/ with the machine's Go and modules from the Go module proxy, checked against
// its committed go.sum. A stamp over the sources, go.mod, go.sum and `go version` makes a second run a
// hash check; any change to them rebuilds. Each failure names its step and what to run by hand.
import { execFileSync, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..", "..");
/** google.golang.org/grpc v1.85.0, which every peer here pins, needs Go ≥ 1.26. */
const MIN_GO = [1, 26];

/**
 * @param {{ name: string, label: string, coldBuild: string }} peer
 *   name: the folder under test/peers/ and the binary's name; label: for messages ("grpc-go client");
 *   coldBuild: what a first build fetches and how long it takes, said before it starts.
 * The built program must print its usage and exit 2 when run with no arguments (the smoke run).
 */
export function buildGoPeer({ name, label, coldBuild }) {
  const src = join(root, "test", "peers", name);
  const outDir = join(root, ".tmp", "tools", name);
  const bin = join(outDir, name);
  const stampFile = join(outDir, "stamp");
  const fail = (step, detail, byHand) =>
    new Error(
      `${label}: step "${step}" failed: ${detail}\n  by hand: ${byHand ?? `cd ${src} && go build -o ${bin} .`}`,
    );

  const version = goVersion(fail);
  const h = createHash("sha256").update(version);
  for (const f of readdirSync(src)
    .filter((f) => f.endsWith(".go") || f === "go.mod" || f === "go.sum")
    .sort()) {
    h.update(`\0${f}\0`).update(readFileSync(join(src, f)));
  }
  const stamp = h.digest("hex");
  if (existsSync(bin) && existsSync(stampFile) && readFileSync(stampFile, "utf8") === stamp) return bin;

  mkdirSync(outDir, { recursive: true });
  // -mod=readonly: go.mod and go.sum are the pin; a build that wants to change them fails instead.
  // GOTOOLCHAIN=local: never fetch another Go toolchain; the version check says what is missing.
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
  console.error(`test-prereqs: building the ${label} (${coldBuild})`);
  run("download modules from the Go module proxy", ["mod", "download"]);
  const tmp = `${bin}.tmp-${process.pid}`;
  try {
    run("go build", ["build", "-trimpath", "-o", tmp, "."]);
    renameSync(tmp, bin);
  } finally {
    rmSync(tmp, { force: true });
  }
  const smoke = spawnSync(bin, [], { encoding: "utf8" });
  if (smoke.status !== 2 || !smoke.stderr.includes("usage")) {
    throw fail(
      "run the built program",
      `expected usage and exit 2, got exit ${smoke.status}: ${smoke.stderr}`,
    );
  }
  writeFileSync(stampFile, stamp);
  console.error(`test-prereqs: ${label} built in ${((Date.now() - started) / 1000).toFixed(1)} s`);
  return bin;
}

function goVersion(fail) {
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
