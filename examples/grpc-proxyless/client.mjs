#!/usr/bin/env node
// A proxyless gRPC client: no sidecar, no DNS lookups of its own. The xDS resolver in
// @grpc/grpc-js-xds reads bootstrap.json, asks dns-eds (over ADS) for the Listener, Route, Cluster and
// endpoints of the target name, and balances calls across the endpoints dns-eds publishes.
//
//   node examples/grpc-proxyless/client.mjs [xds:///echo] [calls]
//
// Start dns-eds first (`npm start` serves the embedded demo zone, or `npm run demo` for everything).
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import * as grpc from "@grpc/grpc-js";
import * as grpcXds from "@grpc/grpc-js-xds";

// The bootstrap is read when the first xds:/// channel is created; keep a value the user already set.
process.env.GRPC_XDS_BOOTSTRAP ??= join(dirname(fileURLToPath(import.meta.url)), "bootstrap.json");
grpcXds.register();

const target = process.argv[2] ?? "xds:///echo";
const calls = Number(process.argv[3] ?? 20);

// The demo backends' service (src/demo/backends.ts): unary demo.Echo/Hello with JSON bodies.
const json = {
  serialize: (v) => Buffer.from(JSON.stringify(v)),
  deserialize: (b) => JSON.parse(b.toString("utf8")),
};
const Echo = grpc.makeGenericClientConstructor(
  {
    hello: {
      path: "/demo.Echo/Hello",
      requestStream: false,
      responseStream: false,
      requestSerialize: json.serialize,
      requestDeserialize: json.deserialize,
      responseSerialize: json.serialize,
      responseDeserialize: json.deserialize,
    },
  },
  "demo.Echo",
);

const client = new Echo(target, grpc.credentials.createInsecure());
const hello = () =>
  new Promise((resolve, reject) =>
    client.hello({ from: "grpc-proxyless example" }, { deadline: Date.now() + 5000 }, (err, reply) =>
      err ? reject(err) : resolve(reply),
    ),
  );

const byAddress = new Map();
let failed = 0;
for (let i = 0; i < calls; i++) {
  try {
    const reply = await hello();
    const key = `${reply.backend} ${reply.address}`;
    byAddress.set(key, (byAddress.get(key) ?? 0) + 1);
  } catch (err) {
    failed++;
    console.error(`call ${i + 1}: ${err.code} ${err.details ?? err.message}`);
  }
}
client.close();

console.log(`${calls} calls to ${target}:`);
for (const [key, n] of [...byAddress].sort()) console.log(`  ${String(n).padStart(4)}  ${key}`);
if (failed) console.log(`  ${String(failed).padStart(4)}  failed`);
process.exit(failed === calls ? 1 : 0);
