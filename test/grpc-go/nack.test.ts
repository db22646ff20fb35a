/**
 * grpc-go NACKs an assignment and dns-eds handles it: the same scenario test/xds/grpc-js-xds-client.test.ts
 * runs with grpc-js-xds. dns-eds's own store refuses what gRPC would NACK, so no config can make grpc-go
 * reject anything; the test publishes through a store with validation off (test-only), the fake the
 * brief allows for a fault a real server won't produce. Real xDS server, real backends on
 * 127.0.0.61..63, grpc-go over SotW ADS.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  clusterLoadAssignment,
  edsCluster,
  grpcApiListener,
  routeToCluster,
} from "../../src/xds/resource-builders.js";
import type { ResourceStore } from "../../src/xds/resource-store.js";
import type { XdsServer } from "../../src/xds/server.js";
import { freePortOnAll, startWhoBackend, type WhoBackend } from "../support/grpc-backends.js";
import { type RecordingMetrics, startServer, T } from "../xds/harness.js";
import { backendsOf, type GoCall, type GrpcGoClient, startGrpcGoClient, tally } from "./grpc-go-client.js";

const HOSTS = ["127.0.0.61", "127.0.0.62", "127.0.0.63"];
const [H1, H2, H3] = HOSTS as [string, string, string];

let store: ResourceStore;
let server: XdsServer;
let metrics: RecordingMetrics;
let xdsPort = 0;
let port = 0;
const backends: WhoBackend[] = [];
let client: GrpcGoClient | undefined;

const cla = (hosts: string[]) =>
  clusterLoadAssignment("nack-cluster", [
    { region: "r1", zone: "z1", endpoints: hosts.map((address) => ({ address, port, health: "HEALTHY" })) },
  ]);

const only = (hosts: string[]) => (w: GoCall[]) =>
  w.every((c) => c.backend !== undefined) && JSON.stringify(backendsOf(w)) === JSON.stringify(hosts.sort());

beforeAll(async () => {
  ({ store, server, metrics, port: xdsPort } = await startServer({}, { skipValidation: true }));
  port = await freePortOnAll(HOSTS);
  for (const h of HOSTS) backends.push(await startWhoBackend(h, port));
}, 30_000);

afterAll(async () => {
  await client?.stop();
  for (const b of backends) b.server.forceShutdown();
  await server?.shutdown(500);
});

describe("grpc-go NACKs an invalid assignment (SotW ADS)", () => {
  it("keeps the last good assignment, dns-eds records the NACK once and does not resend, the next good one applies", async () => {
    store.publish({
      upsert: [
        { typeUrl: T.endpoint, name: "nack-cluster", resource: cla(HOSTS) },
        { typeUrl: T.cluster, name: "nack-cluster", resource: edsCluster("nack-cluster") },
        { typeUrl: T.route, name: "nack-route", resource: routeToCluster("nack-route", "nack-cluster") },
        { typeUrl: T.listener, name: "nack-svc", resource: grpcApiListener("nack-svc", "nack-route") },
      ],
    });
    const c = startGrpcGoClient({
      target: "xds:///nack-svc",
      xdsServer: `127.0.0.1:${xdsPort}`,
      nodeId: "go-nack",
    });
    client = c;
    await c.until("calls on all three", 15, only(HOSTS));

    store.publish({ upsert: [{ typeUrl: T.endpoint, name: "nack-cluster", resource: cla([H3]) }] });
    await c.until(`every call on ${H3}`, 10, only([H3]));
    expect(metrics.nacks).toEqual([]);

    // Duplicate address: A27 (and grpc-go's EDS parser) reject the whole assignment.
    store.publish({ upsert: [{ typeUrl: T.endpoint, name: "nack-cluster", resource: cla([H1, H1]) }] });
    await c.until("dns-eds to record the NACK", 1, () => metrics.nacks.length > 0);
    expect(metrics.nacks[0]?.typeUrl).toBe(T.endpoint);
    expect(metrics.nacks[0]?.detail).toMatch(/duplicate endpoint/);
    // Traffic stays on the last good assignment, and nothing is resent: 40 calls (2 s) later, still one NACK.
    expect(backendsOf(await c.next(40))).toEqual([H3]);
    expect(metrics.nacks).toHaveLength(1);

    store.publish({ upsert: [{ typeUrl: T.endpoint, name: "nack-cluster", resource: cla([H1, H2]) }] });
    await c.until("calls on the next good assignment", 10, only([H1, H2]));
    expect(metrics.nacks).toHaveLength(1);
    console.info(
      `grpc-go nack: ${c.calls.length} calls, ${JSON.stringify(tally(c.calls))}; NACK: ${metrics.nacks[0]?.detail}`,
    );
    expect(c.failuresSinceFirstAnswer()).toEqual([]);
  }, 60_000);
});
