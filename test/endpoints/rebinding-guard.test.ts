/**
 * The rebinding guard in the endpoint pipeline: what a zone (or etcd) may put into a cluster. Denied
 * addresses are neither published nor handed to the health checker; a source whose every address is
 * denied keeps its last good set and the cluster says so.
 */
import { afterEach, describe, expect, it } from "vitest";
import { ClusterInputScreen } from "../../src/endpoints/cluster-input-screen.js";
import type { ClusterSpec } from "../../src/endpoints/cluster-spec.js";
import { type EndpointCandidate, extractCandidates } from "../../src/endpoints/endpoint-candidates.js";
import { healthCheckSpec } from "../support/health-check-spec.js";
import { a, aaaa, cluster, dnsSource, srv, srvSource, staticSource } from "./fixtures.js";
import { closeRigs, pipelineRig, rows } from "./pipeline-harness.js";

afterEach(closeRigs);

function setup() {
  return pipelineRig({ debounceMs: 10, health: true });
}

const svc = (over: Partial<ClusterSpec> = {}) =>
  cluster({ name: "svc", ipFamily: "ALL", healthCheck: healthCheckSpec(), drainMs: 0, ...over });

describe("rebinding guard in the endpoint pipeline (on by default)", () => {
  it("drops loopback, metadata and IPv4-mapped answers, publishes and probes only the rest, and says so", async () => {
    const { clock, source, publisher, tracker, p } = setup();
    source.set(a("svc.example.com", "169.254.169.254", "127.0.0.1", "10.0.0.1"));
    source.set(aaaa("svc.example.com", "::ffff:169.254.169.254", "::1", "fe80::1", "fd00::1"));
    p.setClusters([svc()]);
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc")).sort()).toEqual([
      "0 10.0.0.1:8080 UNKNOWN",
      "0 fd00::1:8080 UNKNOWN",
    ]);
    expect([...tracker.ever].sort()).toEqual(["10.0.0.1|8080", "fd00::1|8080"]);
    const notes = p.snapshot()[0]?.notes ?? [];
    expect(notes).toHaveLength(1);
    expect(notes[0]).toMatchObject({ kind: "rebinding_denied", count: 5, source: "dns:svc.example.com." });
    expect(notes[0]?.message).toContain("169.254.169.254 (metadata)");
    expect(notes[0]?.message).toContain("::ffff:169.254.169.254 (metadata via 169.254.169.254)");
  });

  it("denies SRV target addresses the same way (the attacker picks the port too)", async () => {
    const { clock, source, publisher, tracker, p } = setup();
    source.set(
      srv("_h._tcp.svc.example.com", [
        { priority: 0, weight: 1, port: 22, target: "evil.example.com", v4: ["127.0.0.1"] },
        { priority: 0, weight: 1, port: 80, target: "meta.example.com", v4: ["169.254.169.254"] },
        { priority: 0, weight: 1, port: 9000, target: "ok.example.com", v4: ["10.1.1.1"] },
      ]),
    );
    p.setClusters([svc({ ipFamily: "V4_ONLY", sources: [srvSource("_h._tcp.svc.example.com")] })]);
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.1.1.1:9000 UNKNOWN"]);
    expect([...tracker.ever]).toEqual(["10.1.1.1|9000"]);
  });

  it("keeps the last good set, marked, when the guard denies every address a source gives", async () => {
    const { clock, source, publisher, tracker, p } = setup();
    source.set(a("svc.example.com", "10.0.0.1", "10.0.0.2"));
    source.set(aaaa("svc.example.com"));
    p.setClusters([svc()]);
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toHaveLength(2);
    const published = publisher.batches.length;
    // The zone turns hostile: every address is now loopback or metadata.
    source.push(a("svc.example.com", "127.0.0.1", "169.254.169.254"));
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:8080 UNKNOWN", "0 10.0.0.2:8080 UNKNOWN"]);
    expect(publisher.batches.length).toBe(published);
    expect([...tracker.ever].sort()).toEqual(["10.0.0.1|8080", "10.0.0.2|8080"]);
    const notes = p.snapshot()[0]?.notes ?? [];
    expect(notes.map((n) => n.kind).sort()).toEqual(["rebinding_all_denied", "rebinding_denied"]);
    expect(notes.find((n) => n.kind === "rebinding_all_denied")?.message).toContain(
      "keeping its last good 2",
    );
    // A good answer again: published, notes gone.
    source.push(a("svc.example.com", "10.0.0.3"));
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.3:8080 UNKNOWN"]);
    expect(p.snapshot()[0]?.notes).toEqual([]);
  });

  it("publishes an empty, marked cluster when the very first answer is all denied (nothing to keep)", async () => {
    const { clock, source, publisher, tracker, p } = setup();
    source.set(a("svc.example.com", "127.0.0.1"));
    source.set(aaaa("svc.example.com"));
    p.setClusters([svc()]);
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc"))).toEqual([]);
    expect(tracker.ever.size).toBe(0);
    expect(p.snapshot()[0]?.notes.find((n) => n.kind === "rebinding_all_denied")?.message).toContain(
      "no earlier endpoints",
    );
  });

  it("a cluster that opts out gets loopback (only), another cluster on the same name does not", async () => {
    const { clock, source, publisher, p } = setup();
    source.set(a("svc.example.com", "127.0.0.1", "169.254.169.254"));
    source.set(aaaa("svc.example.com"));
    p.setClusters([svc(), svc({ name: "local", allowLoopback: true })]);
    await clock.advance(10);
    expect(rows(publisher.lastCla("local"))).toEqual(["0 127.0.0.1:8080 UNKNOWN"]);
    expect(rows(publisher.lastCla("svc"))).toEqual([]);
  });

  it("extra deny ranges apply; static addresses are the operator's and pass", async () => {
    const { clock, source, publisher, p } = setup();
    source.set(a("svc.example.com", "10.99.0.1", "10.0.0.1"));
    source.set(aaaa("svc.example.com"));
    p.setClusters([
      svc({
        denyRanges: ["10.99.0.0/16"],
        sources: [dnsSource("svc.example.com", 8080), staticSource([{ address: "127.0.0.1", port: 9 }])],
      }),
    ]);
    await clock.advance(10);
    expect(rows(publisher.lastCla("svc")).sort()).toEqual([
      "0 10.0.0.1:8080 UNKNOWN",
      "0 127.0.0.1:9 UNKNOWN",
    ]);
  });
});

describe("ClusterInputScreen: verdicts kept on the candidates", () => {
  const loopback = () =>
    extractCandidates(cluster({ ipFamily: "V4_ONLY", allowLoopback: true }), [
      { a: a("svc.example.com", "127.0.0.1", "10.0.0.1") },
    ]);
  const addresses = (list: readonly EndpointCandidate[]) => list.map((c) => c.address);

  it("the same candidate objects are judged again when the cluster's guard settings change", () => {
    const screen = new ClusterInputScreen();
    const open = cluster({ ipFamily: "V4_ONLY", allowLoopback: true });
    const shut = cluster({ ipFamily: "V4_ONLY", allowLoopback: false });
    const candidates = loopback();
    const res = [{ a: a("svc.example.com", "127.0.0.1", "10.0.0.1") }];
    expect(addresses(screen.screen(open, res, candidates))).toEqual(["10.0.0.1", "127.0.0.1"]);
    expect(addresses(screen.screen(shut, res, candidates))).toEqual(["10.0.0.1"]);
    expect(screen.notes.map((n) => n.kind)).toEqual(["rebinding_denied"]);
    expect(addresses(screen.screen(open, res, candidates))).toEqual(["10.0.0.1", "127.0.0.1"]);
    // A deny range added by a reload applies to candidates that passed before.
    const ranged = cluster({ ipFamily: "V4_ONLY", allowLoopback: true, denyRanges: ["10.0.0.0/8"] });
    expect(addresses(screen.screen(ranged, res, candidates))).toEqual(["127.0.0.1"]);
  });

  it("two clusters with different guards screening the same objects each get their own verdict", () => {
    const mine = new ClusterInputScreen();
    const theirs = new ClusterInputScreen();
    const open = cluster({ ipFamily: "V4_ONLY", allowLoopback: true });
    const shut = cluster({ ipFamily: "V4_ONLY", allowLoopback: false });
    const candidates = loopback();
    const res = [{ a: a("svc.example.com", "127.0.0.1", "10.0.0.1") }];
    for (let i = 0; i < 3; i++) {
      expect(addresses(mine.screen(open, res, candidates))).toEqual(["10.0.0.1", "127.0.0.1"]);
      expect(addresses(theirs.screen(shut, res, candidates))).toEqual(["10.0.0.1"]);
    }
  });
});
