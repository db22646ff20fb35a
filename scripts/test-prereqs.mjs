#!/usr/bin/env node
// Makes sure the real servers the tests start are installed: etcd (Debian `etcd-server`) and BIND
// (Debian `bind9`), plus `dig` (Debian `bind9-dnsutils`). On Debian as root it installs what is missing; elsewhere it says what to install.
// The tests themselves start and stop these servers on loopback ports; nothing here starts a daemon.
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";

const needs = [
  { bin: "etcd", pkg: "etcd-server" },
  { bin: "etcdctl", pkg: "etcd-client" },
  { bin: "named", pkg: "bind9" },
  // The embedded zone server's tests query it with a real client besides c-ares.
  { bin: "dig", pkg: "bind9-dnsutils" },
];
const onPath = (bin) =>
  spawnSync("sh", ["-c", `command -v ${bin} || test -x /usr/sbin/${bin}`], { stdio: "ignore" }).status === 0;
const missing = needs.filter((n) => !onPath(n.bin));
if (missing.length === 0) process.exit(0);

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
