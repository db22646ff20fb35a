/**
 * grpc-go as a second proxyless client: the scenarios test/endpoints/pipeline-in-process.test.ts runs with
 * @grpc/grpc-js-xds, here with grpc-go's own xDS client (google.golang.org/grpc/xds, version pinned in
 * test/peers/grpc-go-client/go.mod) against real BIND 9, dns-eds via startServer and real backends on
 * 127.0.0.41..44 and ::1. grpc-go speaks SotW ADS only (it has no Delta xDS client), so there is no
 * Delta variant of this file.
 *
 * Each scenario reads where grpc-go's calls landed from the client's own report (one line per call) and
 * asserts that no call failed once the first one was answered and that dns-eds received no NACK.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { eventually } from "../support/grpc-backends.js";
import { backendsOf, type GoCall, type GrpcGoClient, startGrpcGoClient, tally } from "./grpc-go-client.js";
import { FAST_GRPC_HEALTH, type GoStack, startGoStack } from "./stack.js";

const ORIGIN = "grpc-go.test";
const V4 = ["127.0.0.41", "127.0.0.42", "127.0.0.43", "127.0.0.44"];
const [A1, A2, A3, A4] = V4 as [string, string, string, string];
const V6 = "::1";
/** How long a DNS-removed endpoint stays listed as DRAINING: longer than any scenario below. */
const DRAIN_MS = 120_000;

const records = (svc: string[]) =>
  [
    ...svc.map((h) => `svc 1 IN A ${h}`),
    `dual 1 IN A ${A4}`,
    `dual 1 IN AAAA ${V6}`,
    `za 1 IN A ${A1}`,
    `za 1 IN A ${A2}`,
    `zb 1 IN A ${A3}`,
  ].join("\n");

let stack: GoStack;
const clients: GrpcGoClient[] = [];

beforeAll(async () => {
  stack = await startGoStack({
    origin: ORIGIN,
    hosts: [...V4, V6],
    records: () => records([A1, A2, A3]),
    clusters: (port) => [
      {
        name: "svc",
        dns: { name: `svc.${ORIGIN}`, port },
        ipFamily: "V4_ONLY",
        grpcListener: true,
        healthCheck: FAST_GRPC_HEALTH,
        drainMs: DRAIN_MS,
      },
      {
        name: "dual",
        dns: { name: `dual.${ORIGIN}`, port },
        ipFamily: "V6_PREFERRED",
        grpcListener: true,
        healthCheck: FAST_GRPC_HEALTH,
        drainMs: 0,
      },
      {
        name: "zonal",
        ipFamily: "V4_ONLY",
        grpcListener: true,
        zoneAware: true,
        healthCheck: FAST_GRPC_HEALTH,
        drainMs: 0,
        sources: [
          { dns: { name: `za.${ORIGIN}`, port }, locality: { region: "r1", zone: "z1" } },
          { dns: { name: `zb.${ORIGIN}`, port }, locality: { region: "r1", zone: "z2" } },
        ],
      },
    ],
  });
}, 60_000);

afterEach(async () => {
  for (const c of clients.splice(0)) await c.stop();
  for (const h of [...V4, V6]) stack.setServing(h, true);
});

afterAll(async () => {
  for (const c of clients) await c.stop();
  await stack?.stop();
});

function client(target: string, nodeId: string, zone = "z1"): GrpcGoClient {
  const c = startGrpcGoClient({ target: `xds:///${target}`, xdsServer: stack.xdsServer, nodeId, zone });
  clients.push(c);
  return c;
}

/** What a scenario's client saw, printed with the test and checked: nothing failed, nothing NACKed. */
function observed(name: string, c: GrpcGoClient): void {
  const failures = c.failuresSinceFirstAnswer();
  console.info(`grpc-go ${name}: ${c.calls.length} calls, ${JSON.stringify(tally(c.calls))}`);
  expect(failures, `failed calls:\n${c.log().slice(-3000)}`).toEqual([]);
  expect(stack.nacks).toEqual([]);
}

const only = (hosts: string[]) => (w: GoCall[]) =>
  w.every((c) => c.backend !== undefined) && JSON.stringify(backendsOf(w)) === JSON.stringify(hosts.sort());

const endpointOf = (cluster: string, address: string) =>
  stack.app.pipeline
    .snapshot()
    .find((c) => c.name === cluster)
    ?.endpoints.find((e) => e.address === address);

describe("grpc-go proxyless client against dns-eds (SotW ADS)", () => {
  it("is the pinned grpc-go and reaches every A record of the name", async () => {
    const c = client("svc", "go-reach");
    await c.until("calls on all three backends", 15, only([A1, A2, A3]));
    const next = await c.next(30);
    // Round robin over three: every backend answers in 30 calls, and nothing else does.
    expect(backendsOf(next)).toEqual([A1, A2, A3]);
    const pinned = /google\.golang\.org\/grpc v(\S+)/.exec(
      readFileSync(join(import.meta.dirname, "..", "peers", "grpc-go-client", "go.mod"), "utf8"),
    )?.[1];
    expect(c.versions?.grpc).toBe(pinned);
    observed("reach", c);
  }, 60_000);

  it("a DNS change moves calls: a removed record (DRAINING) gets none, an added one gets its share", async () => {
    const c = client("svc", "go-dns");
    await c.until("calls on all three backends", 15, only([A1, A2, A3]));

    await stack.setZone(records([A1, A2]));
    await c.until(`no calls on ${A3}`, 15, only([A1, A2]));
    // dns-eds still lists it, DRAINING: grpc-go must skip DRAINING endpoints, not only absent ones.
    expect(endpointOf("svc", A3)?.draining).toBe(true);
    expect(backendsOf(await c.next(20))).toEqual([A1, A2]);

    await stack.setZone(records([A1, A2, A4]));
    await c.until(`calls on ${A4}`, 15, only([A1, A2, A4]));
    expect(backendsOf(await c.next(30))).toEqual([A1, A2, A4]);

    await stack.setZone(records([A1, A2, A3]));
    await c.until(`calls back on ${A3}`, 15, only([A1, A2, A3]));
    observed("dns-change", c);
  }, 90_000);

  it("health: a backend flipped to NOT_SERVING gets no calls; SERVING again brings it back", async () => {
    const c = client("svc", "go-health");
    await c.until("calls on all three backends", 15, only([A1, A2, A3]));

    stack.setServing(A2, false);
    await eventually(async () => endpointOf("svc", A2)?.health === "UNHEALTHY");
    await c.until(`no calls on ${A2}`, 15, only([A1, A3]));
    expect(backendsOf(await c.next(20))).toEqual([A1, A3]);

    stack.setServing(A2, true);
    await c.until(`calls back on ${A2}`, 15, only([A1, A2, A3]));
    observed("health", c);
  }, 60_000);

  it("V6_PREFERRED: calls go to ::1, fall over to IPv4 when ::1 is unhealthy, and come back", async () => {
    const c = client("dual", "go-v6");
    await c.until("every call on ::1", 10, only([V6]));

    stack.setServing(V6, false);
    await c.until(`every call on ${A4}`, 10, only([A4]));
    expect(backendsOf(await c.next(20))).toEqual([A4]);

    stack.setServing(V6, true);
    await c.until("every call back on ::1", 10, only([V6]));
    observed("v6-preferred", c);
  }, 60_000);

  it("zones: clients in z1 and z2 each stay in their zone, and spill over when their zone is unhealthy", async () => {
    const z1 = client("zonal", "go-z1", "z1");
    const z2 = client("zonal", "go-z2", "z2");
    await z1.until("z1 client on z1 backends", 15, only([A1, A2]));
    await z2.until("z2 client on the z2 backend", 10, only([A3]));
    expect(backendsOf(await z1.next(20))).toEqual([A1, A2]);
    expect(backendsOf(await z2.next(20))).toEqual([A3]);

    // z2's only backend fails: the z2 client spills to z1; the z1 client is unaffected.
    stack.setServing(A3, false);
    await z2.until("z2 client spilled to z1", 15, only([A1, A2]));
    expect(backendsOf(await z1.next(20))).toEqual([A1, A2]);
    stack.setServing(A3, true);
    await z2.until("z2 client back in z2", 10, only([A3]));

    // Both z1 backends fail: the z1 client spills to z2.
    stack.setServing(A1, false);
    stack.setServing(A2, false);
    await z1.until("z1 client spilled to z2", 10, only([A3]));
    stack.setServing(A1, true);
    stack.setServing(A2, true);
    await z1.until("z1 client back in z1", 15, only([A1, A2]));
    observed("zones z1", z1);
    observed("zones z2", z2);
  }, 90_000);
});
