#!/usr/bin/env node
// What a refresh of a large, unchanged name costs in process: the reply of a 1,000-record A name as BIND
// sends it (every owner a compression pointer to the question, the records rotated on each answer) is
// decoded, checked against the held records (the resolver hands back the held array when they are the
// same: ResolveOptions.previous), given its history (recordAnswer) and checked by the change notifier
// (NotifiedAnswer.update, the full fingerprint only when its one pass cannot tell), as the caching resolver does on
// every refresh. Also timed: the same path without the held-array hint (new records every time), as
// before it existed. Baseline in the same run: dns-packet's decode of the same replies (decode only, no
// validation, no history). All three alternate over the same rounds. The whole-process W2 round waits
// for such refreshes of nine unchanged names (see bench/README.md), so this is the part of its idle cost
// that is ours.
import dnsPacket from "dns-packet";
import { NotifiedAnswer } from "../dist/cache/notified-answer.js";
import { recordAnswer } from "../dist/dns/answer-history.js";
import { sameAddressRecords } from "../dist/dns/unchanged-records.js";
import { decodeMessage } from "../dist/dns/wire-decoder.js";

const N = 1000;
const PER_ROUND = 300;
const ROUNDS = 9;
const question = [3, 115, 118, 99, 5, 98, 101, 110, 99, 104, 4, 116, 101, 115, 116, 0]; // svc.bench.test
/** The reply BIND gives, its records rotated by `rot` (rrset-order cyclic). */
function reply(rot) {
  const out = [0, 1, 0x84, 0, 0, 1, (N >> 8) & 255, N & 255, 0, 0, 0, 0, ...question, 0, 1, 0, 1];
  for (let k = 0; k < N; k++) {
    const i = (k + rot) % N;
    out.push(0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 1, 0, 4, 10, 0, i >> 8, i & 255);
  }
  return Buffer.from(out);
}
const replies = [0, 1, 2, 3].map(reply);

/** One refresh as the caching resolver makes it; `hint` = pass the held records (the product's path). */
function refresher(hint) {
  let prev;
  const notified = new NotifiedAnswer();
  return (buf, at) => {
    const d = decodeMessage(buf);
    if (!d.ok) throw new Error(`decode failed: ${d.reason}`);
    const records =
      hint && prev && sameAddressRecords(d.msg.answers, prev.records)
        ? prev.records
        : d.msg.answers.map((r) => ({ type: "A", address: r.data.address, ttl: r.ttl }));
    const a = {
      name: "svc.bench.test",
      type: "A",
      rcode: 0,
      records,
      ttl: 1,
      server: "s",
      resolvedAt: at,
      stale: false,
    };
    a.history = recordAnswer(prev, a);
    notified.update(a);
    prev = a;
    return records.length;
  };
}
const ours = refresher(true);
const noHint = refresher(false);
function baseline(buf) {
  return dnsPacket.decode(buf).answers.length;
}

function timeRound(fn, offset) {
  const t0 = performance.now();
  let n = 0;
  for (let i = 0; i < PER_ROUND; i++) n += fn(replies[i & 3], offset + i);
  if (n !== PER_ROUND * N) throw new Error(`decoded ${n} records, expected ${PER_ROUND * N}`);
  return ((performance.now() - t0) / PER_ROUND) * 1000;
}

// Warm-up (JIT), then alternating rounds.
timeRound(ours, 0);
timeRound(noHint, 0);
timeRound(baseline, 0);
const a = [];
const b = [];
const c = [];
for (let r = 0; r < ROUNDS; r++) {
  a.push(timeRound(ours, (r + 1) * 10_000));
  c.push(timeRound(noHint, (r + 1) * 10_000));
  b.push(timeRound(baseline, 0));
}
const median = (xs) => [...xs].sort((x, y) => x - y)[Math.floor(xs.length / 2)];
const summary = {
  bench: "dns-refresh",
  records: N,
  oursUsP50: +median(a).toFixed(0),
  withoutHeldArrayUsP50: +median(c).toFixed(0),
  dnsPacketDecodeUsP50: +median(b).toFixed(0),
};
summary.ratio = +(summary.oursUsP50 / summary.dnsPacketDecodeUsP50).toFixed(2);
console.log(JSON.stringify(summary));
console.log(
  `refresh of an unchanged ${N}-record name (decode + history + change check): ${summary.oursUsP50} µs (${summary.withoutHeldArrayUsP50} µs without the held-array hint); dns-packet decode alone: ${summary.dnsPacketDecodeUsP50} µs → ${summary.ratio}×`,
);
