#!/usr/bin/env node
// npm's `prepare` hook: runs on `npm install` / `npm ci` in a checkout and before `npm pack`. In a
// development checkout it builds (protos + tsc), so `npm install && npm start` works. A production
// install (`npm ci --omit=dev`) has no build tools (buf, TypeScript, the Envoy protos of
// @grpc/grpc-js-xds), so it must not try: it says so and leaves dist/ as it is. The npm package and the
// container image ship a built dist/ and never run this.
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
// This checkout's own node_modules, not a parent folder's: npm installs the devDependencies there.
const devTools = ["typescript", "@bufbuild/buf", "@grpc/grpc-js-xds"];
const missing = devTools.filter((m) => !existsSync(join(root, "node_modules", m, "package.json")));
if (missing.length > 0) {
  const built = existsSync(join(root, "dist", "cli", "main.js"));
  console.error(
    `prepare: devDependencies not installed (${missing.join(", ")}): ` +
      `not building. ${built ? "dist/ is there." : "There is no dist/: install with devDependencies and run npm run build."}`,
  );
  process.exit(0);
}
execFileSync("npm", ["run", "build"], { cwd: root, stdio: "inherit" });
