// Load client of the whole-process xDS benchmarks: a child process (started by load-clients.mjs, pinned
// to its own core) that opens N ADS streams, each on its own HTTP/2 connection as real proxies do, and
// ACKs every response like a client that accepts it. It speaks gRPC over Node's http2 module directly
// (5-byte length-prefixed messages on a POST stream): a grpc-js channel per stream cost the client more
// CPU than the servers under test spent, so the client was the limit of the connect storm. It does not
// decode resources: a short wire scan finds each resource's name and bytes, which the stream keeps as
// "what it holds".
//
// Per stream it counts responses, changed resources ("updates": bytes differ from what it held) and
// unchanged ones ("redundant"). A round is a marker (bytes that appear only in the new content): when
// every stream of this process holds a response containing it, the parent hears the first and last
// receipt times. A stream the server ends is reopened (see `connect`) and counted in `reconnects`.
// `check` asks whether every stream holds, for each name it watches, the content with
// the expected marker (nothing lost, coalescing ended on the newest version).
//
// IPC in: open, marker, check, counts, close. IPC out: opened, marker-set, round, initial, check, counts.
import http2 from "node:http2";
import net from "node:net";
import { ADS_DELTA as DELTA, ADS_SOTW as SOTW, str } from "./protobuf-wire.mjs";

if (!process.send) {
  console.log("stream-client: helper of the whole-process xDS benchmarks; run by them");
  process.exit(0);
}

const now = () => performance.timeOrigin + performance.now();

/** Calls fn(field, start, end) for each length-delimited top-level field of buf[from, to). */
function fields(buf, from, to, fn) {
  let pos = from;
  while (pos < to) {
    let tag = 0;
    let shift = 0;
    let b;
    do {
      b = buf[pos++];
      tag += (b & 0x7f) * 2 ** shift;
      shift += 7;
    } while (b & 0x80);
    const wt = tag & 7;
    if (wt === 0) {
      while (buf[pos++] & 0x80);
      continue;
    }
    if (wt === 5) {
      pos += 4;
      continue;
    }
    if (wt === 1) {
      pos += 8;
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
    fn(Math.floor(tag / 8), pos, pos + len);
    pos += len;
  }
}

/** The value bytes of a google.protobuf.Any in buf[from, to). */
function anyValue(buf, from, to) {
  let v;
  fields(buf, from, to, (f, s, e) => {
    if (f === 2) v = buf.subarray(s, e);
  });
  return v ?? Buffer.alloc(0);
}

/** cluster_name (field 1) of a ClusterLoadAssignment. */
function claName(value) {
  let name = "";
  fields(value, 0, value.length, (f, s, e) => {
    if (f === 1 && name === "") name = value.toString("utf8", s, e);
  });
  return name;
}

/** Resources of a response as [name, bytes] plus the header fields the ACK echoes. */
function parse(buf, delta) {
  const out = { version: "", nonce: "", resources: [] };
  fields(buf, 0, buf.length, (f, s, e) => {
    if (!delta && f === 1) out.version = buf.toString("utf8", s, e);
    else if (f === 5) out.nonce = buf.toString("utf8", s, e);
    else if (f === 2) {
      if (delta) {
        // Resource { version 1, resource 2 (Any), name 3 }
        let name = "";
        let value;
        fields(buf, s, e, (g, a, b) => {
          if (g === 3) name = buf.toString("utf8", a, b);
          else if (g === 2) value = anyValue(buf, a, b);
        });
        if (value) out.resources.push([name || claName(value), value]);
      } else {
        const value = anyValue(buf, s, e);
        out.resources.push([claName(value), value]);
      }
    }
  });
  return out;
}

/** A gRPC message on the wire: uncompressed flag, big-endian length, the bytes. */
function frame(msg) {
  const out = Buffer.allocUnsafe(5 + msg.length);
  out[0] = 0;
  out.writeUInt32BE(msg.length, 1);
  msg.copy(out, 5);
  return out;
}

/** Splits an HTTP/2 data stream into gRPC messages; chunks are joined once per message, not per chunk. */
function deframer(onMessage) {
  let chunks = [];
  let have = 0;
  let need = 5;
  let header = true;
  return (chunk) => {
    chunks.push(chunk);
    have += chunk.length;
    while (have >= need) {
      const buf = chunks.length === 1 ? chunks[0] : Buffer.concat(chunks, have);
      if (header) {
        need = 5 + buf.readUInt32BE(1);
        header = false;
        chunks = [buf];
        if (have < need) break;
      }
      onMessage(buf.subarray(5, need));
      const rest = buf.subarray(need);
      chunks = rest.length > 0 ? [rest] : [];
      have = rest.length;
      need = 5;
      header = true;
    }
  };
}

let streams = [];
let spec;
/** Set by `close`: streams then end for good instead of reconnecting. */
let closing = false;
const RECONNECT_DELAY_MS = 200;
/** Per stream: a server that keeps ending streams is a finding, not something to retry forever. */
const MAX_RECONNECTS = 100;
// bytes: gRPC message bytes of every response, so a bench can show that the servers it compares sent
// the same content (the same assignment differs between servers only in version, nonce and identifier).
const totals = { responses: 0, bytes: 0, updates: 0, redundant: 0, reconnects: 0 };
/** round → { marker, reached, first, last } */
const rounds = new Map();
let initialPending = 0;
let initialFirst = 0;
let initialLast = 0;

process.on("message", (msg) => {
  if (msg.cmd === "open") open(msg);
  else if (msg.cmd === "marker") {
    rounds.set(msg.round, { marker: Buffer.from(msg.hex, "hex"), reached: 0, first: 0, last: 0 });
    process.send({ markerSet: msg.round });
  } else if (msg.cmd === "check") process.send({ check: check(msg.expect) });
  else if (msg.cmd === "counts") {
    // A stream that heard nothing for `silentMs` while others are busy is stuck.
    const t = now() - (msg.silentMs ?? 5000);
    const silent = streams.filter((s) => s.lastAt < t).length;
    process.send({ counts: { ...totals, streams: streams.length, silent } });
  } else if (msg.cmd === "close") {
    closing = true;
    for (const s of streams) s.session?.destroy();
    streams = [];
    process.send({ closed: true }, () => process.exit(0));
  }
});

/** Names stream i (global index) watches: all of `names`, or `per` of `clusters` spread evenly. */
function namesOf(i) {
  if (spec.names) return spec.names;
  return Array.from(
    { length: spec.per },
    (_, j) => `${spec.prefix}${(i + (spec.clusters / spec.per) * j) % spec.clusters}`,
  );
}

function check(expect) {
  // expect: name → hex marker of the newest content.
  const markers = new Map(Object.entries(expect).map(([n, h]) => [n, Buffer.from(h, "hex")]));
  let ok = 0;
  let stale = 0;
  let missing = 0;
  for (const s of streams) {
    for (const n of s.names) {
      const m = markers.get(n);
      if (!m) continue;
      const held = s.held.get(n);
      if (!held) missing++;
      else if (held.indexOf(m) >= 0) ok++;
      else stale++;
    }
  }
  return { ok, stale, missing };
}

function open({ target, n, base, typeUrl, delta, names, clusters, per, prefix }) {
  spec = { names, clusters, per, prefix, target, typeUrl, delta };
  initialPending = n;
  for (let k = 0; k < n; k++) {
    const i = base + k;
    const s = {
      i,
      session: undefined,
      call: undefined,
      names: namesOf(i),
      held: new Map(),
      version: "",
      round: 0,
      initial: false,
      lastAt: now(),
      reconnects: 0,
    };
    streams.push(s);
    connect(s);
  }
  process.send({ opened: n });
}

/**
 * Opens stream s on a new HTTP/2 connection (session) of its own, from its own loopback address like
 * proxies on their own hosts (a server may cap connections per peer address; dns-eds does, at 100).
 * When the server ends the stream (a connection-age GOAWAY, a restart), it reconnects after 200 ms
 * with the same names and, in SotW, the version it last held, as Envoy does; without this a soak
 * longer than the server's `maxConnectionAgeMs` (30 min ±10% by default) measured streams that had
 * simply gone.
 */
function connect(s) {
  const { target, typeUrl, delta } = spec;
  const [host, port] = [
    target.slice(0, target.lastIndexOf(":")),
    Number(target.slice(target.lastIndexOf(":") + 1)),
  ];
  const localAddress = `127.100.${(s.i >> 8) & 255}.${s.i & 255 || 1}`;
  const session = http2.connect(`http://${target}`, {
    createConnection: () => net.connect({ host, port, localAddress }),
  });
  session.on("error", () => {});
  const call = session.request({
    ":method": "POST",
    ":path": delta ? DELTA : SOTW,
    "content-type": "application/grpc",
    te: "trailers",
  });
  s.session = session;
  s.call = call;
  call.on("error", () => {});
  call.on(
    "data",
    deframer((buf) => onResponse(s, buf, typeUrl, delta)),
  );
  call.on("close", () => {
    session.destroy();
    if (closing || s.reconnects >= MAX_RECONNECTS) return;
    s.reconnects++;
    totals.reconnects++;
    setTimeout(() => {
      if (!closing) connect(s);
    }, RECONNECT_DELAY_MS);
  });
  const nodeMsg = str(1, `bench-${s.i}`);
  const first = delta
    ? Buffer.concat([str(1, nodeMsg), str(2, typeUrl), ...s.names.map((x) => str(3, x))])
    : Buffer.concat([
        ...(s.version ? [str(1, s.version)] : []),
        str(2, nodeMsg),
        ...s.names.map((x) => str(3, x)),
        str(4, typeUrl),
      ]);
  call.write(frame(first));
}

function onResponse(s, buf, typeUrl, delta) {
  const at = now();
  s.lastAt = at;
  totals.responses++;
  totals.bytes += buf.length;
  const r = parse(buf, delta);
  if (!delta) s.version = r.version;
  for (const [name, value] of r.resources) {
    const had = s.held.get(name);
    if (had?.equals(value)) totals.redundant++;
    else totals.updates++;
    s.held.set(name, value);
  }
  if (!s.initial && s.held.size >= s.names.length) {
    s.initial = true;
    if (initialFirst === 0) initialFirst = at;
    initialLast = at;
    if (--initialPending === 0) process.send({ initial: { first: initialFirst, last: initialLast } });
  }
  for (const [k, rd] of rounds) {
    if (k <= s.round || buf.indexOf(rd.marker) < 0) continue;
    s.round = k;
    if (rd.reached++ === 0) rd.first = at;
    rd.last = at;
    if (rd.reached === streams.length) {
      process.send({ round: { k, first: rd.first, last: rd.last } });
      rounds.delete(k);
    }
  }
  // ACK: SotW echoes version_info and nonce with the same names; Delta only the nonce.
  const ack = delta
    ? Buffer.concat([str(2, typeUrl), str(6, r.nonce)])
    : Buffer.concat([str(1, r.version), ...s.names.map((x) => str(3, x)), str(4, typeUrl), str(5, r.nonce)]);
  s.call.write(frame(ack));
}
