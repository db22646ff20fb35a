// A real single-member etcd (Debian `etcd-server`) on loopback for a benchmark, in a private data dir, and
// the two figures a soak watches: keys under a prefix and leases granted (both through `etcdctl`).
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { freePort } from "./free-port.mjs";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

export async function startEtcd({ cpus } = {}) {
  const dir = mkdtempSync(join(tmpdir(), "dnseds-bench-etcd-"));
  const url = `http://127.0.0.1:${await freePort()}`;
  const args = [
    "--data-dir",
    dir,
    "--listen-client-urls",
    url,
    "--advertise-client-urls",
    url,
    "--listen-peer-urls",
    `http://127.0.0.1:${await freePort()}`,
    "--log-level",
    "error",
    "--logger",
    "zap",
  ];
  const bin = process.env.ETCD_BIN ?? "etcd";
  const child = cpus
    ? spawn("taskset", ["-c", cpus, bin, ...args], { stdio: "ignore" })
    : spawn(bin, args, { stdio: "ignore" });
  const kill = () => child.kill("SIGKILL");
  process.once("exit", kill);
  let healthy = false;
  for (let i = 0; i < 200 && !healthy; i++) {
    try {
      healthy = (await (await fetch(`${url}/health`)).json()).health === "true";
    } catch {}
    if (!healthy) await sleep(50);
  }
  if (!healthy) throw new Error("etcd did not become healthy in 10 s");
  const ctl = (...a) => {
    const r = spawnSync("etcdctl", ["--endpoints", url, ...a], {
      encoding: "utf8",
      env: { ...process.env, ETCDCTL_API: "3" },
    });
    if (r.status !== 0) throw new Error(`etcdctl ${a.join(" ")}: ${r.stderr}`);
    return r.stdout;
  };
  return {
    url,
    keys(prefix) {
      // `count` is the number of matching keys even when --limit returns fewer.
      return (
        JSON.parse(ctl("get", "--prefix", "--keys-only", "--limit", "1", "-w", "json", prefix)).count ?? 0
      );
    },
    leases() {
      return JSON.parse(ctl("lease", "list", "-w", "json")).leases?.length ?? 0;
    },
    async stop() {
      process.removeListener("exit", kill);
      const exited = new Promise((r) => child.once("exit", r));
      child.kill("SIGTERM");
      const t = setTimeout(() => child.kill("SIGKILL"), 5000);
      await exited;
      clearTimeout(t);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
