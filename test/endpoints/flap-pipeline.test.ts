/**
 * The endpoints stage riding out flapping DNS (issue 16), with a scripted source and a manual clock:
 * an empty answer after records keeps the last set published (and health-checked) for the grace, then
 * it drains as before; a big shrink is held until seen again or until its hold runs out; small changes
 * and growth apply at once; each cluster applies its own settings to the same facts; a grace whose
 * start the facts carry (a new owner's inherited grace) ends at that start + grace, not later.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { Answer } from "../../src/dns/types.js";
import type { ClusterSpec, FlapGuardSpec } from "../../src/endpoints/cluster-spec.js";
import type { HoldEvent } from "../../src/endpoints/flap-guard.js";
import type { FakeClock } from "../health/fake-clock.js";
import { healthCheckSpec } from "../support/health-check-spec.js";
import { validateCla } from "./cla-validator.js";
import { a, aaaa, answer, cluster, dnsSource, srv, srvSource, T0 } from "./fixtures.js";
import { closeRigs, pipelineRig, rows } from "./pipeline-harness.js";

const NAME = "svc.example.com";
const FIVE = ["10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4", "10.0.0.5"];
const guard = (over: Partial<FlapGuardSpec> = {}): FlapGuardSpec => ({
  emptyGraceMs: 60_000,
  shrinkThreshold: 0.5,
  shrinkHoldMs: 30_000,
  ...over,
});

afterEach(closeRigs);

function setup(specs: ClusterSpec[], first: Answer[]) {
  const events: string[] = [];
  const rig = pipelineRig({
    health: true,
    onHold: (e: HoldEvent) =>
      events.push(`${e.cluster} ${e.phase} ${e.hold.kind}${e.phase === "end" ? ` ${e.outcome}` : ""}`),
  });
  for (const x of first) rig.source.set(x);
  rig.p.setClusters(specs);
  return { ...rig, events };
}

/** Moves the manual clock to T0 + `ms`, firing what falls due on the way. */
const to = (clock: FakeClock, ms: number) => clock.advance(T0 + ms - clock.now());
/** An answer resolved `ms` after T0 (resolvedAt is what the history keys its times on). */
const at = (ms: number, x: Answer): Answer => ({ ...x, resolvedAt: T0 + ms });
const nx = (ms: number, name = NAME, ttl = 10): Answer =>
  answer(name, "A", [], { rcode: 3, ttl, resolvedAt: T0 + ms });
const svc = (over: Partial<ClusterSpec> = {}) =>
  cluster({ name: "svc", ipFamily: "V4_ONLY", drainMs: 5000, flapGuard: guard(), ...over });

describe("grace for empty answers", () => {
  it("NXDOMAIN after records keeps the set routable for the grace, then drains it, then removes it", async () => {
    const { clock, source, publisher, events, p } = setup([svc()], [at(0, a(NAME, "10.0.0.1", "10.0.0.2"))]);
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:8080 UNKNOWN", "0 10.0.0.2:8080 UNKNOWN"]);
    const published = publisher.batches.length;

    await to(clock, 1000);
    source.push(nx(1000));
    await clock.advance(200);
    // Nothing new goes out: the client keeps both endpoints, routable.
    expect(publisher.batches).toHaveLength(published);
    expect(p.snapshot()[0]?.holds).toEqual([
      { lookup: `A ${NAME}.`, kind: "empty", rcode: 3, since: T0 + 1000, until: T0 + 61_000, records: 2 },
    ]);
    expect(events).toEqual(["svc start empty"]);

    // Still inside the grace one ms before its end (with every re-check answering NXDOMAIN again).
    await to(clock, 30_000);
    source.push(nx(30_000));
    await to(clock, 61_000 - 1);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:8080 UNKNOWN", "0 10.0.0.2:8080 UNKNOWN"]);
    expect(publisher.batches).toHaveLength(published);

    // The grace ends: the set drains as before the grace existed.
    await clock.advance(1 + 100);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:8080 DRAINING", "0 10.0.0.2:8080 DRAINING"]);
    expect(events).toEqual(["svc start empty", "svc end empty expired"]);
    expect(p.snapshot()[0]?.holds).toEqual([]);
    await clock.advance(5000 + 100);
    expect(rows(publisher.lastCla("svc"))).toEqual([]);
    for (const b of publisher.batches)
      for (const u of b.upsert ?? [])
        if (u.typeUrl.endsWith("Assignment")) expect(validateCla(u.resource as never)).toEqual([]);
  });

  it("an empty NOERROR answer is held the same way, and the name coming back ends the grace unnoticed", async () => {
    const { clock, source, publisher, events, p } = setup([svc()], [at(0, a(NAME, "10.0.0.1", "10.0.0.2"))]);
    await clock.advance(200);
    const published = publisher.batches.length;
    await to(clock, 1000);
    source.push(answer(NAME, "A", [], { rcode: 0, ttl: 10, resolvedAt: T0 + 1000 }));
    await clock.advance(200);
    expect(p.snapshot()[0]?.holds.map((h) => h.kind === "empty" && h.rcode)).toEqual([0]);
    await to(clock, 11_000);
    source.push(at(11_000, a(NAME, "10.0.0.2", "10.0.0.1")));
    await clock.advance(200);
    expect(events).toEqual(["svc start empty", "svc end empty answered"]);
    expect(publisher.batches).toHaveLength(published);
    expect(p.snapshot()[0]?.holds).toEqual([]);
  });

  it("health still wins: an endpoint held through a grace is checked and goes UNHEALTHY", async () => {
    const spec = svc({ healthCheck: healthCheckSpec() });
    const { clock, source, publisher, sink, tracker } = setup(
      [spec],
      [at(0, a(NAME, "10.0.0.1", "10.0.0.2"))],
    );
    await clock.advance(200);
    await to(clock, 1000);
    source.push(nx(1000));
    await clock.advance(200);
    expect(tracker.tracked).toEqual(new Set(["10.0.0.1|8080", "10.0.0.2|8080"]));
    sink.set("10.0.0.1|8080", "HEALTHY");
    sink.set("10.0.0.2|8080", "UNHEALTHY");
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:8080 HEALTHY", "0 10.0.0.2:8080 UNHEALTHY"]);
  });

  it('"auto" is max(60 s, 2 × the TTL of the last set); 0 drains at once as before', async () => {
    const { clock, source, p } = setup(
      [
        svc({ name: "auto", flapGuard: guard({ emptyGraceMs: "auto" }) }),
        svc({ name: "off", flapGuard: guard({ emptyGraceMs: 0 }) }),
        svc({ name: "none", flapGuard: undefined }),
        svc({
          name: "long",
          sources: [dnsSource("long.example.com", 8080)],
          flapGuard: guard({ emptyGraceMs: "auto" }),
        }),
      ],
      [at(0, a(NAME, "10.0.0.1")), at(0, { ...a("long.example.com", "10.0.0.9"), ttl: 300 })],
    );
    await clock.advance(200);
    await to(clock, 1000);
    source.push(nx(1000));
    source.push(nx(1000, "long.example.com"));
    await clock.advance(200);
    const holds = Object.fromEntries(
      p.snapshot().map((c) => [c.name, c.holds.map((h) => h.until - h.since)]),
    );
    expect(holds).toEqual({ auto: [60_000], off: [], none: [], long: [600_000] });
    const draining = Object.fromEntries(
      p.snapshot().map((c) => [c.name, c.endpoints.map((e) => e.draining)]),
    );
    expect(draining).toEqual({ auto: [false], off: [true], none: [true], long: [false] });
  });

  it("a grace whose start the facts carry (inherited from another owner) ends at that start + grace", async () => {
    const { clock, source, publisher, events } = setup([svc()], [at(0, a(NAME, "10.0.0.1"))]);
    await to(clock, 20_000);
    // The previous owner saw the first NXDOMAIN at +1 s; this answer, resolved by the new owner at +20 s,
    // carries that start.
    const confirmed = { records: a(NAME, "10.0.0.1").records, ttl: 30, resolvedAt: T0 };
    source.push({ ...nx(20_000), history: { confirmed, emptySince: T0 + 1000 } });
    await clock.advance(200);
    expect(events).toEqual(["svc start empty"]);
    await to(clock, 61_000 + 100);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.0.1:8080 DRAINING"]);
    expect(events).toEqual(["svc start empty", "svc end empty expired"]);
  });

  it("an SRV name answering NXDOMAIN keeps its targets tracked and its endpoints published", async () => {
    const name = "_h._tcp.svc.example.com";
    const entries = [
      { priority: 0, weight: 1, port: 7000, target: "t1.example.com", v4: ["10.0.1.1"] },
      { priority: 0, weight: 1, port: 7000, target: "t2.example.com", v4: ["10.0.1.2"] },
    ];
    const { clock, source, publisher } = setup(
      [svc({ sources: [srvSource(name)] })],
      [
        at(0, srv(name, entries)),
        at(0, a("t1.example.com", "10.0.1.1")),
        at(0, a("t2.example.com", "10.0.1.2")),
      ],
    );
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.1.1:7000 UNKNOWN", "0 10.0.1.2:7000 UNKNOWN"]);
    await to(clock, 1000);
    source.push(answer(name, "SRV", [], { rcode: 3, ttl: 10, resolvedAt: T0 + 1000 }));
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.1.1:7000 UNKNOWN", "0 10.0.1.2:7000 UNKNOWN"]);
    expect([...source.tracked].sort()).toContain("A t2.example.com.");
    await clock.advance(61_000);
    expect(rows(publisher.lastCla("svc"))).toEqual(["0 10.0.1.1:7000 DRAINING", "0 10.0.1.2:7000 DRAINING"]);
    expect([...source.tracked].sort()).not.toContain("A t2.example.com.");
  });
});

describe("damping for shrinking answers", () => {
  it("one of five records, seen once, moves nothing; seen again it applies", async () => {
    const { clock, source, publisher, events, p } = setup([svc()], [at(0, a(NAME, ...FIVE))]);
    await clock.advance(200);
    const published = publisher.batches.length;
    await to(clock, 5000);
    source.push(at(5000, a(NAME, "10.0.0.1")));
    await clock.advance(200);
    expect(publisher.batches).toHaveLength(published);
    expect(p.snapshot()[0]?.holds).toEqual([
      { lookup: `A ${NAME}.`, kind: "shrink", since: T0 + 5000, until: T0 + 35_000, from: 5, to: 1 },
    ]);
    await to(clock, 10_000);
    source.push(at(10_000, a(NAME, "10.0.0.1")));
    await clock.advance(200);
    expect(rows(publisher.lastCla("svc"))).toEqual([
      "0 10.0.0.1:8080 UNKNOWN",
      ...FIVE.slice(1).map((ip) => `0 ${ip}:8080 DRAINING`),
    ]);
    expect(events).toEqual(["svc start shrink", "svc end shrink confirmed"]);
  });

  it("the full set coming back drops the held answer; a hold with no second sighting applies when it runs out", async () => {
    const { clock, source, publisher, events } = setup([svc()], [at(0, a(NAME, ...FIVE))]);
    await clock.advance(200);
    const published = publisher.batches.length;
    await to(clock, 5000);
    source.push(at(5000, a(NAME, "10.0.0.1")));
    await clock.advance(200);
    await to(clock, 10_000);
    source.push(at(10_000, a(NAME, ...FIVE)));
    await clock.advance(200);
    expect(publisher.batches).toHaveLength(published);
    expect(events).toEqual(["svc start shrink", "svc end shrink withdrawn"]);

    await to(clock, 20_000);
    source.push(at(20_000, a(NAME, "10.0.0.2")));
    await to(clock, 50_000 - 1);
    expect(publisher.batches).toHaveLength(published);
    await clock.advance(1 + 100);
    expect(rows(publisher.lastCla("svc"))[0]).toBe("0 10.0.0.1:8080 DRAINING");
    expect(rows(publisher.lastCla("svc"))).toContain("0 10.0.0.2:8080 UNKNOWN");
    expect(events.slice(2)).toEqual(["svc start shrink", "svc end shrink hold-expired"]);
  });

  it("growth, a one-record removal and a removal of exactly half apply at once", async () => {
    const { clock, source, publisher, events } = setup([svc()], [at(0, a(NAME, "10.0.0.1", "10.0.0.2"))]);
    const step = async (ms: number, ips: string[]) => {
      await to(clock, ms);
      source.push(at(ms, a(NAME, ...ips)));
      await clock.advance(200);
    };
    await step(1000, FIVE);
    expect(rows(publisher.lastCla("svc"))).toHaveLength(5);
    await step(2000, FIVE.slice(0, 4));
    expect(rows(publisher.lastCla("svc"))).toContain("0 10.0.0.5:8080 DRAINING");
    // Its second sighting (the cache re-checks a smaller answer after minTtl) confirms it; the next
    // change is measured against the four.
    await step(3000, FIVE.slice(0, 4));
    await step(4000, ["10.0.0.1", "10.0.0.2"]);
    await step(5000, ["10.0.0.1", "10.0.0.2"]);
    await step(6000, ["10.0.0.1"]);
    expect(rows(publisher.lastCla("svc")).filter((r) => r.endsWith("UNKNOWN"))).toEqual([
      "0 10.0.0.1:8080 UNKNOWN",
    ]);
    expect(events).toEqual([]);
  });

  it("each cluster applies its own settings to the same name", async () => {
    const { clock, source, publisher } = setup(
      [
        svc({ name: "damped" }),
        svc({ name: "undamped", flapGuard: guard({ shrinkHoldMs: 0 }) }),
        svc({ name: "lenient", flapGuard: guard({ shrinkThreshold: 0.9 }) }),
      ],
      [at(0, a(NAME, ...FIVE))],
    );
    await clock.advance(200);
    await to(clock, 5000);
    source.push(at(5000, a(NAME, "10.0.0.1")));
    await clock.advance(200);
    const serving = (c: string) => rows(publisher.lastCla(c)).filter((r) => r.endsWith("UNKNOWN")).length;
    expect([serving("damped"), serving("undamped"), serving("lenient")]).toEqual([5, 1, 1]);
  });

  it("a held AAAA answer does not hold the A answer of the same name", async () => {
    const { clock, source, publisher } = setup(
      [svc({ ipFamily: "ALL" })],
      [
        at(0, a(NAME, "10.0.0.1", "10.0.0.2", "10.0.0.3")),
        at(0, aaaa(NAME, "fd00::1", "fd00::2", "fd00::3")),
      ],
    );
    await clock.advance(200);
    await to(clock, 1000);
    source.push(at(1000, aaaa(NAME, "fd00::1")));
    source.push(at(1000, a(NAME, "10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4")));
    await clock.advance(200);
    const up = rows(publisher.lastCla("svc")).filter((r) => r.endsWith("UNKNOWN"));
    expect(up).toHaveLength(7);
  });
});
