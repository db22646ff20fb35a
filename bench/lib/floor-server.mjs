// The floor of the whole-process xDS benchmarks, run as its own process (pinned like the server under
// test): bare grpc-js answering ADS streams with pre-encoded bytes and nothing else. A stream's first
// request says which names it watches; it gets one response with them. On `commit`, every stream
// watching a changed name is written one response holding its changed resources; streams watching the
// same changed set share one buffer. No ACK handling, no nonces per stream, no backpressure: the least
// a server can do to deliver the same bytes.
//
// IPC in: { cmd: "set", name, endpoints: ["ip:port/hostname", ...] }, { cmd: "commit" }, { cmd: "mem" }, close.
// IPC out: { port }, { committed }, { mem }.
import { create, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { ADS_SOTW, lengthDelimited } from "./protobuf-wire.mjs";
import { endpointParts } from "./workloads.mjs";

if (!process.send) {
  console.log("floor-server: helper of the whole-process xDS benchmarks; run by them");
  process.exit(0);
}
// Exit, not die, on the bench's SIGTERM: `--cpu-prof` writes its profile only on a normal exit.
process.on("SIGTERM", () => process.exit(0));

const dist = new URL("../../dist/", import.meta.url);
const { ClusterLoadAssignmentSchema } = await import(
  new URL("gen/envoy/config/endpoint/v3/endpoint_pb.js", dist).href
);
const { clusterLoadAssignment } = await import(new URL("xds/resource-builders.js", dist).href);

const TYPE_EDS = "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment";

/** The names (field 3) of a DiscoveryRequest. */
function requestedNames(buf) {
  const names = [];
  let pos = 0;
  while (pos < buf.length) {
    const tag = buf[pos++];
    let len = 0;
    let shift = 0;
    let b;
    do {
      b = buf[pos++];
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    if (tag >> 3 === 3) names.push(buf.toString("utf8", pos, pos + len));
    pos += len;
  }
  return names;
}

/** name → DiscoveryResponse.resources field (an Any holding the CLA), encoded once. */
const current = new Map();
const staged = new Map();
/** name → streams watching it */
const watchers = new Map();
let version = 0;

function anyField(name, endpoints) {
  const cla = clusterLoadAssignment(name, [
    {
      region: "r",
      zone: "z",
      // Endpoint.hostname too, as dns-eds sends it (workloads.mjs).
      endpoints: endpoints.map((e) => ({ ...endpointParts(e), weight: 1 })),
    },
  ]);
  const value = toBinary(ClusterLoadAssignmentSchema, create(ClusterLoadAssignmentSchema, cla));
  return lengthDelimited(
    2,
    Buffer.concat([lengthDelimited(1, Buffer.from(TYPE_EDS)), lengthDelimited(2, Buffer.from(value))]),
  );
}

function response(anys) {
  const v = Buffer.from(String(version));
  return Buffer.concat([
    lengthDelimited(1, v),
    ...anys,
    lengthDelimited(4, Buffer.from(TYPE_EDS)),
    lengthDelimited(5, v),
  ]);
}

const server = new grpc.Server({ "grpc.max_send_message_length": 64 * 1024 * 1024 });
server.addService(
  {
    S: {
      path: ADS_SOTW,
      requestStream: true,
      responseStream: true,
      requestSerialize: (b) => b,
      requestDeserialize: (b) => b,
      responseSerialize: (b) => b,
      responseDeserialize: (b) => b,
    },
  },
  {
    S: (call) => {
      let first = true;
      call.on("data", (req) => {
        if (!first) return;
        first = false;
        const names = requestedNames(req);
        call.names = names;
        for (const n of names) {
          const set = watchers.get(n);
          if (set) set.add(call);
          else watchers.set(n, new Set([call]));
        }
        const anys = names.map((n) => current.get(n)).filter((a) => a !== undefined);
        if (anys.length > 0) call.write(response(anys));
      });
      call.on("error", () => {});
      call.on("cancelled", () => {
        for (const n of call.names ?? []) watchers.get(n)?.delete(call);
      });
    },
  },
);
const port = await new Promise((res, rej) =>
  server.bindAsync("127.0.0.1:0", grpc.ServerCredentials.createInsecure(), (e, p) => (e ? rej(e) : res(p))),
);

function commit() {
  version++;
  for (const [n, a] of staged) current.set(n, a);
  const changed = new Map(); // stream → its changed names in watch order
  for (const n of staged.keys()) {
    for (const call of watchers.get(n) ?? []) {
      const list = changed.get(call);
      if (list) list.push(n);
      else changed.set(call, [n]);
    }
  }
  staged.clear();
  const shared = new Map();
  for (const [call, names] of changed) {
    const key = names.join("\0");
    let buf = shared.get(key);
    if (!buf) {
      buf = response(names.map((n) => current.get(n)));
      shared.set(key, buf);
    }
    call.write(buf);
  }
}

process.on("message", (m) => {
  if (m.cmd === "set") staged.set(m.name, anyField(m.name, m.endpoints));
  else if (m.cmd === "commit") {
    commit();
    process.send({ committed: version });
  } else if (m.cmd === "mem") {
    globalThis.gc?.();
    process.send({ mem: process.memoryUsage() });
  } else if (m.cmd === "close") {
    server.forceShutdown();
    process.exit(0);
  }
});
process.send({ port });
