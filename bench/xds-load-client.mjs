// Load client for the xDS benchmarks (not a benchmark itself: run as a child process by xds-*.mjs so the
// client's CPU is not charged to the server under test). Opens N ADS streams, each on its own HTTP/2
// connection, ACKs every response without decoding resources (a tiny top-level wire scan finds the nonce),
// and reports to the parent over IPC when every stream has received its k-th response.
import * as grpc from "@grpc/grpc-js";
import { ADS_DELTA as DELTA, ADS_SOTW as SOTW, str } from "./lib/protobuf-wire.mjs";

if (!process.send) {
  console.log("xds-load-client: helper of the xds benchmarks; nothing to do when run alone");
  process.exit(0);
}

const now = () => performance.timeOrigin + performance.now();

/** Top-level length-delimited string fields of a message (skips others by length). */
function scan(buf, wanted) {
  const out = {};
  let pos = 0;
  while (pos < buf.length) {
    let tag = 0;
    let shift = 0;
    let b;
    do {
      b = buf[pos++];
      tag += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    const field = Math.floor(tag / 8);
    const wt = tag & 7;
    if (wt === 0) {
      while (buf[pos++] & 0x80);
      continue;
    }
    if (wt !== 2) throw new Error(`unexpected wire type ${wt}`);
    let len = 0;
    shift = 0;
    do {
      b = buf[pos++];
      len += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    if (wanted.includes(field)) out[field] = buf.toString("utf8", pos, pos + len);
    pos += len;
  }
  return out;
}

let streams = [];
const reached = [0];

process.on("message", (msg) => {
  if (msg.cmd === "open") open(msg);
  if (msg.cmd === "pause") for (const s of streams) s.call.pause();
  if (msg.cmd === "close") {
    for (const s of streams) {
      s.call.cancel();
      s.client.close();
    }
    streams = [];
    process.send({ closed: true }, () => process.exit(0));
  }
});

function open({ target, n, names, typeUrl, delta, zone, pauseAfterFirst }) {
  const path = delta ? DELTA : SOTW;
  for (let i = 0; i < n; i++) {
    // A local subchannel pool per channel forces one HTTP/2 connection per stream, like real clients.
    const client = new grpc.Client(target, grpc.credentials.createInsecure(), {
      "grpc.use_local_subchannel_pool": 1,
      "grpc.max_receive_message_length": 64 * 1024 * 1024,
    });
    const call = client.makeBidiStreamRequest(
      path,
      (b) => b,
      (b) => b,
    );
    const s = { client, call, count: 0 };
    streams.push(s);
    call.on("error", () => {});
    call.on("data", (buf) => {
      const at = now();
      s.count++;
      reached[s.count] = (reached[s.count] ?? 0) + 1;
      if (reached[s.count] === n) process.send({ reached: s.count, at });
      if (pauseAfterFirst && s.count === 1) {
        call.pause();
        return;
      }
      // ACK: SotW echoes version_info (1) and nonce (5); Delta only the nonce (6).
      const f = scan(buf, [1, 5]);
      const ack = delta
        ? Buffer.concat([str(2, typeUrl), str(6, f[5] ?? "")])
        : Buffer.concat([
            str(1, f[1] ?? ""),
            ...names.map((x) => str(3, x)),
            str(4, typeUrl),
            str(5, f[5] ?? ""),
          ]);
      call.write(ack);
    });
    const nodeMsg = Buffer.concat([
      str(1, `bench-${process.pid}-${i}`),
      zone ? str(4, str(2, zone)) : Buffer.alloc(0),
    ]);
    const first = delta
      ? Buffer.concat([str(1, nodeMsg), str(2, typeUrl), ...names.map((x) => str(3, x))])
      : Buffer.concat([str(2, nodeMsg), ...names.map((x) => str(3, x)), str(4, typeUrl)]);
    call.write(first);
  }
  process.send({ opened: n });
}
