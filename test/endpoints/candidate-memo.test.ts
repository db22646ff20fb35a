// The pipeline keeps each source's candidates, and the builder each endpoint's message, while the answers
// and the spec they came from stay the same objects (candidate-memo.ts, assignment-builder.ts). These
// cases change everything else a candidate or an endpoint message depends on, and check that the
// published assignment is byte for byte the one a fresh pipeline builds from the same final state.
import { toBinary } from "@bufbuild/protobuf";
import { afterEach, describe, expect, it } from "vitest";
import type { Answer } from "../../src/dns/types.js";
import { CandidateMemo } from "../../src/endpoints/candidate-memo.js";
import type { ClusterSpec } from "../../src/endpoints/cluster-spec.js";
import { extractCandidates } from "../../src/endpoints/endpoint-candidates.js";
import { EndpointPipeline } from "../../src/endpoints/endpoint-pipeline.js";
import { ClusterLoadAssignmentSchema } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { LocalHealthSink } from "../../src/health/local-health-sink.js";
import { FakeClock } from "../health/fake-clock.js";
import { healthCheckSpec } from "../support/health-check-spec.js";
import { aaaaRecs, answer, aRecs, cluster, dnsSource, loc, T0, txtRecs } from "./fixtures.js";
import { RecordingPublisher, rows, ScriptedSource } from "./pipeline-harness.js";

const pipelines: EndpointPipeline[] = [];
afterEach(() => {
  for (const p of pipelines.splice(0)) p.close();
});

function setup(withHealth = false) {
  const clock = new FakeClock(T0);
  const source = new ScriptedSource();
  const publisher = new RecordingPublisher();
  const sink = new LocalHealthSink();
  const p = new EndpointPipeline({
    source,
    publisher,
    clock,
    debounceMs: 100,
    ...(withHealth ? { healthSink: sink, healthTracker: { track() {}, untrack() {} } } : {}),
  });
  pipelines.push(p);
  return { clock, source, publisher, sink, p };
}

const ips = (prefix: string, n: number) => Array.from({ length: n }, (_, i) => `${prefix}.${i + 1}`);
const v4 = (name: string, ...addrs: string[]): Answer => answer(name, "A", aRecs(...addrs));
const v6 = (name: string, ...addrs: string[]): Answer => answer(name, "AAAA", aaaaRecs(...addrs));

/** Two names of a few records each, in two localities. */
function twoNames(over: Partial<ClusterSpec> = {}, port = 8080): ClusterSpec {
  return cluster({
    name: "svc",
    ipFamily: "V4_PREFERRED",
    drainMs: 0,
    sources: [dnsSource("one.svc", port), dnsSource("two.svc", port, { locality: loc("z2") })],
    ...over,
  });
}

const bytes = (p: RecordingPublisher): string => {
  const cla = p.lastCla("svc");
  if (cla === undefined) throw new Error("no assignment published");
  return Buffer.from(toBinary(ClusterLoadAssignmentSchema, cla)).toString("hex");
};

/** The assignment a new pipeline publishes for `spec` over `answers` (nothing remembered). */
async function fresh(spec: ClusterSpec, answers: Answer[], health?: Map<string, "HEALTHY" | "UNHEALTHY">) {
  const f = setup(health !== undefined);
  for (const ans of answers) f.source.set(ans);
  for (const [k, h] of health ?? []) f.sink.set(k, h);
  f.p.setClusters([spec]);
  await f.clock.advance(200);
  return bytes(f.publisher);
}

describe("reused candidates and endpoint messages never serve a stale assignment", () => {
  it("a reload changing only the port republishes every endpoint on the new port, answers unchanged", async () => {
    const { clock, source, publisher, p } = setup();
    const answers = [v4("one.svc", ...ips("10.1.0", 3)), v4("two.svc", ...ips("10.2.0", 3))];
    for (const ans of answers) source.set(ans);
    p.setClusters([twoNames()]);
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc")).every((r) => r.includes(":8080 "))).toBe(true);
    p.setClusters([twoNames({}, 9090)]);
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toHaveLength(6);
    expect(rows(publisher.lastCla("svc")).every((r) => r.includes(":9090 "))).toBe(true);
    expect(bytes(publisher)).toBe(await fresh(twoNames({}, 9090), answers));
  });

  it("a reload changing only the IP family re-filters the same answers", async () => {
    const { clock, source, publisher, p } = setup();
    const answers = [
      v4("one.svc", "10.1.0.1"),
      v6("one.svc", "fd00::1"),
      v4("two.svc", "10.2.0.1"),
      v6("two.svc", "fd00::2"),
    ];
    for (const ans of answers) source.set(ans);
    // The same source objects in both specs (the lookups differ by family, and so the answers given).
    const sources = twoNames().sources;
    p.setClusters([twoNames({ ipFamily: "V4_ONLY", sources })]);
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.1.0.1:8080 UNKNOWN", "0 10.2.0.1:8080 UNKNOWN"]);
    p.setClusters([twoNames({ ipFamily: "V6_ONLY", sources })]);
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 fd00::1:8080 UNKNOWN", "0 fd00::2:8080 UNKNOWN"]);
    expect(bytes(publisher)).toBe(await fresh(twoNames({ ipFamily: "V6_ONLY" }), answers));
  });

  it("a reload tightening the rebinding guard drops the denied addresses though every source's candidates are kept", async () => {
    const { clock, source, publisher, p } = setup();
    const answers = [v4("one.svc", ...ips("10.1.0", 2)), v4("two.svc", ...ips("10.2.0", 2))];
    for (const ans of answers) source.set(ans);
    // The same source objects and answers: the memo hands back the same candidates, the guard judges anew.
    const sources = twoNames().sources;
    p.setClusters([twoNames({ sources })]);
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toHaveLength(4);
    p.setClusters([twoNames({ sources, denyRanges: ["10.2.0.0/16"] })]);
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.1.0.1:8080 UNKNOWN", "0 10.1.0.2:8080 UNKNOWN"]);
    expect(p.snapshot()[0]?.notes.map((n) => n.kind)).toContain("rebinding_all_denied");
    expect(bytes(publisher)).toBe(await fresh(twoNames({ denyRanges: ["10.2.0.0/16"] }), answers));
  });

  it("a reload changing only a source's metadata puts the new metadata on its endpoints", async () => {
    const { clock, source, publisher, p } = setup();
    const answers = [v4("one.svc", ...ips("10.1.0", 2)), v4("two.svc", ...ips("10.2.0", 2))];
    for (const ans of answers) source.set(ans);
    const withTeam = (team: string) =>
      twoNames({
        sources: [
          dnsSource("one.svc", 8080, { metadata: { team } }),
          dnsSource("two.svc", 8080, { locality: loc("z2") }),
        ],
      });
    p.setClusters([withTeam("blue")]);
    await clock.advance(200);
    p.setClusters([withTeam("green")]);
    await clock.advance(200);
    const teams = (publisher.lastCla("svc")?.endpoints ?? []).flatMap((le) =>
      le.lbEndpoints.map((lb) => JSON.stringify(lb.metadata?.filterMetadata ?? {})),
    );
    expect(teams.filter((t) => t.includes("green"))).toHaveLength(2);
    expect(teams.some((t) => t.includes("blue"))).toBe(false);
    expect(bytes(publisher)).toBe(await fresh(withTeam("green"), answers));
  });

  it("TXT metadata that changes while the addresses do not reaches the endpoints", async () => {
    const { clock, source, publisher, p } = setup();
    const spec = twoNames({
      sources: [
        dnsSource("one.svc", 8080, { txtMetadata: true }),
        dnsSource("two.svc", 8080, { locality: loc("z2") }),
      ],
    });
    const one = v4("one.svc", ...ips("10.1.0", 2));
    const two = v4("two.svc", ...ips("10.2.0", 2));
    for (const ans of [one, two, answer("one.svc", "TXT", txtRecs("team=blue"))]) source.set(ans);
    p.setClusters([spec]);
    await clock.advance(200);
    const txt = answer("one.svc", "TXT", txtRecs("team=green"));
    source.push(txt);
    await clock.advance(200);
    expect(bytes(publisher)).toContain(Buffer.from("green").toString("hex"));
    expect(bytes(publisher)).not.toContain(Buffer.from("blue").toString("hex"));
    expect(bytes(publisher)).toBe(await fresh(spec, [one, two, txt]));
  });

  it("after changes to one of several names and to health, the bytes equal a fresh build's", async () => {
    const hc = healthCheckSpec();
    const spec = twoNames({ healthCheck: hc, happyEyeballs: true, ipFamily: "V4_PREFERRED" });
    const { clock, source, sink, publisher, p } = setup(true);
    const stable = [v4("two.svc", ...ips("10.2.0", 4)), v6("two.svc", "fd00::2:1", "fd00::2:2")];
    for (const ans of stable) source.set(ans);
    source.set(v4("one.svc", ...ips("10.1.0", 4)));
    source.set(v6("one.svc"));
    p.setClusters([spec]);
    await clock.advance(200);
    const health = new Map<string, "HEALTHY" | "UNHEALTHY">();
    let last: Answer[] = [];
    for (let step = 1; step <= 6; step++) {
      const one = v4("one.svc", ...ips("10.1.0", 4).slice(step % 3), `10.1.9.${step}`);
      const oneV6 = v6("one.svc", ...(step % 2 === 0 ? ["fd00::1:1"] : []));
      source.push(one);
      source.push(oneV6);
      // Health moves on endpoints of the name that did not change: their messages must follow.
      const k = `10.2.0.${1 + (step % 4)}|8080`;
      const h = step % 2 === 0 ? "UNHEALTHY" : "HEALTHY";
      health.set(k, h);
      sink.set(k, h);
      await clock.advance(200);
      last = [one, oneV6, ...stable];
      expect(bytes(publisher)).toBe(await fresh(spec, last, health));
    }
  });
});

describe("a name whose answer changed keeps the candidates it still lists", () => {
  // W1 of issue 12: one name of a thousand records, one swapped per change. Kept candidates keep their
  // endpoint messages, address checks and encodings downstream; new ones must carry what DNS says now.
  const spec = cluster({
    name: "svc",
    ipFamily: "V4_ONLY",
    sources: [dnsSource("one.svc", 8080, { txtMetadata: true })],
  });
  const shuffled = (xs: string[]) => [...xs.slice(7), ...xs.slice(0, 7)];

  it("one record swapped: every other candidate is the same object, in address order, equal to a fresh extraction", () => {
    const memo = new CandidateMemo();
    const before = memo.extract(spec, [{ a: v4("one.svc", ...shuffled(ips("10.1.0", 20))) }]);
    const now = [...ips("10.1.0", 20).slice(1), "10.1.9.9"];
    const res = [{ a: v4("one.svc", ...shuffled(now)) }];
    const after = memo.extract(spec, res);
    expect(after).toEqual(extractCandidates(spec, res).map((c) => ({ ...c, expiresAt: expect.any(Number) })));
    expect(after.map((c) => c.address)).toEqual(after.map((c) => c.address).sort());
    const kept = after.filter((c) => before.includes(c));
    expect(kept.map((c) => c.address).sort()).toEqual(ips("10.1.0", 20).slice(1).sort());
    expect(after.find((c) => c.address === "10.1.9.9")).toBeDefined();
    expect(before.includes(after.find((c) => c.address === "10.1.9.9") as never)).toBe(false);
  });

  it("TXT metadata changed with the addresses: no candidate is kept, all carry the new metadata", () => {
    const memo = new CandidateMemo();
    const a1 = v4("one.svc", ...ips("10.1.0", 5));
    memo.extract(spec, [{ a: a1, txt: answer("one.svc", "TXT", txtRecs("color=red")) }]);
    const after = memo.extract(spec, [
      { a: v4("one.svc", ...ips("10.1.0", 5)), txt: answer("one.svc", "TXT", txtRecs("color=blue")) },
    ]);
    expect(after).toHaveLength(5);
    expect(after.every((c) => c.metadata.color === "blue")).toBe(true);
  });
});
