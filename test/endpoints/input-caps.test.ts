/**
 * Caps on what a zone controls the size of, and SRV target checks, in the endpoint pipeline: going over
 * a cap keeps the last good set and says so; nothing past a cap is tracked, probed or published.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { ClusterSpec, InputLimits } from "../../src/endpoints/cluster-spec.js";
import type { EndpointPipeline } from "../../src/endpoints/endpoint-pipeline.js";
import { healthCheckSpec } from "../support/health-check-spec.js";
import { a, answer, cluster, dnsSource, type SrvEntry, srv, srvSource, txtRecs } from "./fixtures.js";
import { closeRigs, pipelineRig, rows } from "./pipeline-harness.js";

afterEach(closeRigs);

const limits = (over: Partial<InputLimits> = {}): InputLimits => ({
  maxSrvTargets: 3,
  maxEndpoints: 4,
  maxTxtKeys: 2,
  maxTxtBytes: 64,
  ...over,
});

function setup() {
  return pipelineRig({ debounceMs: 10, health: true });
}

const svc = (over: Partial<ClusterSpec> = {}) =>
  cluster({
    name: "svc",
    ipFamily: "V4_ONLY",
    drainMs: 0,
    healthCheck: healthCheckSpec(),
    inputLimits: limits(),
    ...over,
  });

const entries = (n: number, port = 80): SrvEntry[] =>
  Array.from({ length: n }, (_, i) => ({
    priority: 0,
    weight: 1,
    port,
    target: `t${i}.example.com`,
    v4: [`10.0.1.${i + 1}`],
  }));

const kinds = (p: EndpointPipeline) => (p.snapshot()[0]?.notes ?? []).map((n) => n.kind).sort();

describe("caps on DNS-controlled size", () => {
  it("an SRV answer with more targets than the cap keeps the last good set, and no new target is tracked", async () => {
    const { clock, source, publisher, tracker, p } = setup();
    const name = "_h._tcp.svc.example.com";
    source.set(srv(name, entries(2)));
    for (const e of entries(2)) source.set(a(e.target, ...(e.v4 ?? [])));
    p.setClusters([svc({ sources: [srvSource(name)] })]);
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.1.1:80 UNKNOWN", "0 10.0.1.2:80 UNKNOWN"]);

    const big = srv(name, entries(50));
    for (const e of entries(50)) source.set(a(e.target, ...(e.v4 ?? [])));
    source.push(big);
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.1.1:80 UNKNOWN", "0 10.0.1.2:80 UNKNOWN"]);
    expect([...source.tracked].filter((k) => k.startsWith("A t")).sort()).toEqual([
      "A t0.example.com.",
      "A t1.example.com.",
    ]);
    expect(tracker.ever.size).toBe(2);
    const note = p.snapshot()[0]?.notes.find((n) => n.kind === "srv_targets_cap");
    expect(note?.count).toBe(50);
    expect(note?.message).toContain(
      "50 SRV targets, over dns.limits.maxSrvTargets (3); keeping its last good 2",
    );

    // Back under the cap: published at once, note gone.
    source.push(srv(name, entries(3)));
    source.set(a("t2.example.com", "10.0.1.3"));
    await clock.advance(10);
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toHaveLength(3);
    expect(kinds(p)).toEqual([]);
  });

  it("a cluster over its endpoint cap keeps its last good set; with none yet it publishes the first ones, marked", async () => {
    const { clock, source, publisher, p } = setup();
    const ips = (n: number) => Array.from({ length: n }, (_, i) => `10.0.2.${i + 1}`);
    source.set(a("svc.example.com", ...ips(6)));
    p.setClusters([svc()]);
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toHaveLength(4);
    expect(p.snapshot()[0]?.notes[0]?.message).toContain("no earlier set: publishing the first 4");

    source.push(a("svc.example.com", ...ips(3)));
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toHaveLength(3);
    expect(kinds(p)).toEqual([]);

    source.push(a("svc.example.com", ...ips(200)));
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toEqual([
      "0 10.0.2.1:8080 UNKNOWN",
      "0 10.0.2.2:8080 UNKNOWN",
      "0 10.0.2.3:8080 UNKNOWN",
    ]);
    expect(p.snapshot()[0]?.notes[0]).toMatchObject({ kind: "endpoints_cap", count: 200 });
    expect(p.snapshot()[0]?.notes[0]?.message).toContain("keeping the last good 3");
  });

  it("TXT metadata over the key or byte cap keeps the last good endpoints and their metadata", async () => {
    const { clock, source, publisher, p } = setup();
    source.set(a("svc.example.com", "10.0.3.1"));
    source.set(answer("svc.example.com", "TXT", txtRecs("version=v1")));
    p.setClusters([svc({ sources: [dnsSource("svc.example.com", 8080, { txtMetadata: true })] })]);
    await clock.advance(10);
    const meta = () =>
      JSON.stringify(publisher.lastCla("svc")?.endpoints[0]?.lbEndpoints[0]?.metadata?.filterMetadata);
    expect(meta()).toContain("v1");

    source.push(answer("svc.example.com", "TXT", txtRecs("a=1", "b=2", "c=3")));
    source.push(a("svc.example.com", "10.0.3.2"));
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.3.1:8080 UNKNOWN"]);
    expect(meta()).toContain("v1");
    expect(p.snapshot()[0]?.notes[0]?.message).toContain(
      "3 TXT metadata keys, over dns.limits.maxTxtKeysPerEndpoint (2)",
    );

    source.push(answer("svc.example.com", "TXT", txtRecs(`k=${"x".repeat(100)}`)));
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.3.1:8080 UNKNOWN"]);
    expect(p.snapshot()[0]?.notes[0]?.message).toContain(
      "bytes of TXT metadata, over dns.limits.maxTxtBytesPerEndpoint (64)",
    );
  });
});

describe("SRV targets", () => {
  it("are used only when they are host names; others are neither tracked nor published", async () => {
    const { clock, source, publisher, p } = setup();
    const name = "_h._tcp.svc.example.com";
    source.set(
      srv(name, [
        { priority: 0, weight: 1, port: 80, target: "good.example.com", v4: ["10.0.4.1"] },
        { priority: 0, weight: 1, port: 81, target: "bad_label.example.com", v4: ["10.0.4.2"] },
        { priority: 0, weight: 1, port: 82, target: "-dash.example.com", v4: ["10.0.4.3"] },
      ]),
    );
    source.set(a("good.example.com", "10.0.4.1"));
    p.setClusters([svc({ sources: [srvSource(name)] })]);
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.4.1:80 UNKNOWN"]);
    expect([...source.tracked].some((k) => k.includes("bad_label") || k.includes("-dash"))).toBe(false);
    const note = p.snapshot()[0]?.notes.find((n) => n.kind === "bad_srv_target");
    expect(note?.count).toBe(2);
    expect(note?.message).toContain('"bad_label.example.com."');
  });

  it("a failed target is named; the others are served", async () => {
    const { clock, source, publisher, p } = setup();
    const name = "_h._tcp.svc.example.com";
    const ans = srv(name, [
      { priority: 0, weight: 1, port: 80, target: "up.example.com", v4: ["10.0.5.1"] },
      { priority: 0, weight: 1, port: 80, target: "down.example.com" },
    ]);
    ans.targetErrors = new Map([["down.example.com.", "ERR_DNS_REFUSED: 127.0.0.1:53 answered REFUSED"]]);
    source.set(ans);
    source.set(a("up.example.com", "10.0.5.1"));
    source.fail("down.example.com", "A", "ERR_DNS_REFUSED");
    p.setClusters([svc({ sources: [srvSource(name)] })]);
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.5.1:80 UNKNOWN"]);
    const snap = p.snapshot()[0];
    expect(snap?.notes.find((n) => n.kind === "srv_target_failed")?.message).toContain(
      "lookup of down.example.com. (ERR_DNS_REFUSED",
    );
    expect(snap?.errors.join("\n")).toContain("down.example.com");
  });
});
