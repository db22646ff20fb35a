#!/usr/bin/env node
// Generates TypeScript (protobuf-es) for the Envoy v3 API and our own protos into src/gen/ (git-ignored).
//
// Why a staging copy: the Envoy protos come from the npm package @grpc/grpc-js-xds (deps/), whose
// bundled protoc-gen-validate `validate.proto` predates the `ignore_empty` field of StringRules that a
// handful of Envoy protos (core/v3/protocol.proto among them) use in `(validate.rules)` options. buf
// refuses to build them. Validation annotations never change the wire format or the generated message
// types, so we copy the trees into build/proto-deps/ and drop just that one option field there. Nothing
// third-party is committed; the rewrite is exact (a fixed string) and the build fails if it finds none.
import { execFileSync } from "node:child_process";
import {
  cpSync,
  existsSync,
  mkdirSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { createRequire } from "node:module";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const require = createRequire(import.meta.url);
const xdsPkg = dirname(require.resolve("@grpc/grpc-js-xds/package.json"));
const deps = join(xdsPkg, "deps");
const stage = join(root, "build", "proto-deps");
const out = join(root, "src", "gen");

const trees = ["envoy-api", "xds", "googleapis", "protoc-gen-validate"];
rmSync(stage, { recursive: true, force: true });
mkdirSync(stage, { recursive: true });
for (const t of trees) cpSync(join(deps, t), join(stage, t), { recursive: true });

let rewritten = 0;
const walk = (dir) => {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) walk(p);
    else if (name.endsWith(".proto")) {
      const src = readFileSync(p, "utf8");
      if (src.includes(" ignore_empty: true")) {
        writeFileSync(p, src.replaceAll(" ignore_empty: true", ""));
        rewritten++;
      }
    }
  }
};
walk(join(stage, "envoy-api"));
if (rewritten === 0)
  console.warn("gen-proto: no `ignore_empty` options found; the validate.proto workaround may be obsolete");

// The Envoy messages we build, serve or decode. --include-imports pulls in what they need.
const envoy = [
  "config/cluster/v3/cluster.proto",
  "config/endpoint/v3/endpoint.proto",
  "config/listener/v3/listener.proto",
  "config/route/v3/route.proto",
  "config/bootstrap/v3/bootstrap.proto",
  "extensions/filters/network/http_connection_manager/v3/http_connection_manager.proto",
  "extensions/filters/http/router/v3/router.proto",
  // HTTP/2 to the xDS server in the docker-compose example's Envoy bootstrap (decoded in a test).
  "extensions/upstreams/http/v3/http_protocol_options.proto",
  "service/discovery/v3/ads.proto",
  "service/discovery/v3/discovery.proto",
  "service/endpoint/v3/eds.proto",
  "service/cluster/v3/cds.proto",
  "service/listener/v3/lds.proto",
  "service/route/v3/rds.proto",
  // Fleet status (CSDS) and the admin config dump types it and /config_dump speak.
  "service/status/v3/csds.proto",
  "admin/v3/config_dump.proto",
  // Typed configs a Cluster's load_balancing_policy may carry, so the config dump can render them.
  "extensions/load_balancing_policies/round_robin/v3/round_robin.proto",
  "extensions/load_balancing_policies/least_request/v3/least_request.proto",
  "extensions/load_balancing_policies/random/v3/random.proto",
  "extensions/load_balancing_policies/wrr_locality/v3/wrr_locality.proto",
  "extensions/load_balancing_policies/ring_hash/v3/ring_hash.proto",
  "extensions/load_balancing_policies/maglev/v3/maglev.proto",
  "extensions/load_balancing_policies/pick_first/v3/pick_first.proto",
];
const paths = envoy.map((p) => join("build/proto-deps/envoy-api/envoy", p));
const own = join(root, "proto");
if (existsSync(own)) paths.push(...listProtos(own).map((p) => relative(root, p)));

function listProtos(dir) {
  const acc = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) acc.push(...listProtos(p));
    else if (name.endsWith(".proto")) acc.push(p);
  }
  return acc;
}

rmSync(out, { recursive: true, force: true });
const buf = join(root, "node_modules", ".bin", "buf");
execFileSync(buf, ["generate", "--include-imports", ...paths.flatMap((p) => ["--path", p])], {
  cwd: root,
  stdio: "inherit",
});
console.log(`gen-proto: generated ${listGen(out)} files into src/gen (${rewritten} staged protos rewritten)`);

function listGen(dir) {
  let n = 0;
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    n += statSync(p).isDirectory() ? listGen(p) : 1;
  }
  return n;
}
