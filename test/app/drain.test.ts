/**
 * Drain on SIGTERM, as a rolling restart sees it: two real `dns-eds serve` replicas behind a loopback
 * L4 balancer that sends new connections only to replicas whose /readyz is 200 (what a Kubernetes
 * Service does), and 200 xDS clients (real grpc-js, one connection each, re-opening their stream
 * after it ends, as Envoy and gRPC do). SIGTERM to replica A must turn its /readyz 503 at once, keep
 * serving for the drain delay, then send the clients away spread over the drain window, so they land on
 * B a few at a time, every one of them getting the full assignment and none an empty one.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { ClusterLoadAssignmentSchema } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import {
  type DiscoveryRequest,
  DiscoveryRequestSchema,
  type DiscoveryResponse,
  DiscoveryResponseSchema,
} from "../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";
import { buildPrivate } from "../support/private-build.js";
import { waitFor } from "../support/wait-for.js";

const CLIENTS = Number(process.env.DRAIN_CLIENTS ?? 200);
const DELAY_MS = 1_000;
const WINDOW_MS = 4_000;
const GRACE_MS = 2_000;
const ENDPOINTS = 3;

let buildDir: string;
let workDir: string;
const procs: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
  buildDir = await buildPrivate("drain-", ["cli/main.ts", "app/serve.ts"]);
  workDir = mkdtempSync(join(tmpdir(), "dns-eds-drain-"));
}, 180_000);

afterAll(() => {
  for (const p of procs) p.kill("SIGKILL");
  rmSync(buildDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

interface Replica {
  proc: ChildProcessWithoutNullStreams;
  admin: string;
  xdsPort: number;
  exit: Promise<number | null>;
}

async function startReplica(name: string): Promise<Replica> {
  const file = join(workDir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      'admin: { listen: "127.0.0.1:0" }',
      // The 200 test clients all connect from 127.0.0.1 (default: 100 connections per address).
      'xds: { listen: "127.0.0.1:0", limits: { maxConnectionsPerPeer: 1000 } }',
      'dns: { servers: ["127.0.0.1:53"] }',
      `shutdown: { drainDelayMs: ${DELAY_MS}, drainWindowMs: ${WINDOW_MS}, graceMs: ${GRACE_MS} }`,
      "clusters:",
      "  - name: web",
      `    static: [${Array.from({ length: ENDPOINTS }, (_, i) => `{ address: "127.0.0.${i + 1}", port: 8080 }`).join(", ")}]`,
      "",
    ].join("\n"),
  );
  const proc = spawn(process.execPath, [join(buildDir, "cli", "main.js"), "serve", "--config", file]);
  procs.push(proc);
  let out = "";
  proc.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  proc.stderr.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const exit = new Promise<number | null>((resolve) => proc.on("exit", (code) => resolve(code)));
  const admin = await waitFor(`${name}'s admin URL`, 30_000, async () => {
    return /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"admin listening"/.exec(out)?.[1];
  }).catch((err: Error) => {
    throw new Error(`${err.message}\n${name}'s output:\n${out}`);
  });
  const xdsPort = Number(
    await waitFor(
      `${name}'s xDS port`,
      30_000,
      async () => /"port":(\d+),[^\n]*"msg":"xDS listening"/.exec(out)?.[1],
    ),
  );
  await waitFor(`${name} ready`, 30_000, async () =>
    (await fetch(`${admin}/readyz`)).status === 200 ? true : undefined,
  );
  return { proc, admin, xdsPort, exit };
}

/** A Service: new connections go round robin to replicas whose /readyz answered 200 at the last poll. */
async function startBalancer(first: Replica) {
  const replicas = [first];
  const ready = new Map<Replica, boolean>([[first, true]]);
  const connections: Array<{ at: number; to: number }> = [];
  let stopped = false;
  const poll = (async () => {
    for (let i = 0; i < 100_000 && !stopped; i++) {
      await Promise.all(
        replicas.map(async (r) => {
          const ok = await fetch(`${r.admin}/readyz`, { signal: AbortSignal.timeout(1_000) })
            .then((res) => res.status === 200)
            .catch(() => false);
          ready.set(r, ok);
        }),
      );
      await new Promise((res) => setTimeout(res, 100));
    }
  })();
  let next = 0;
  const sockets = new Set<Socket>();
  const server: Server = createServer((client) => {
    const candidates = replicas.filter((r) => ready.get(r));
    const target = candidates[next++ % Math.max(1, candidates.length)];
    if (!target) {
      client.destroy();
      return;
    }
    connections.push({ at: Date.now(), to: replicas.indexOf(target) });
    const upstream = connect(target.xdsPort, "127.0.0.1");
    for (const s of [client, upstream]) {
      sockets.add(s);
      s.on("close", () => sockets.delete(s));
      s.on("error", () => {
        client.destroy();
        upstream.destroy();
      });
    }
    client.pipe(upstream);
    upstream.pipe(client);
    upstream.on("close", () => client.destroy());
    client.on("close", () => upstream.destroy());
  });
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    connections,
    /** A new replica joins the Service (it is used once a poll saw it ready). */
    add(r: Replica) {
      ready.set(r, false);
      replicas.push(r);
    },
    isReady: (r: Replica) => ready.get(r) === true,
    async close() {
      stopped = true;
      await poll;
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
}

/** One xDS client: ADS SotW for the CLA `web`, ACKs, re-opens the stream 50–100 ms after it ends. */
class MovingClient {
  readonly ends: Array<{ at: number; code: number }> = [];
  readonly responses: Array<{ at: number; endpoints: number; stream: number }> = [];
  private readonly client: grpc.Client;
  private call: grpc.ClientDuplexStream<DiscoveryRequest, DiscoveryResponse> | undefined;
  private streams = 0;
  private closed = false;

  constructor(
    port: number,
    readonly id: number,
  ) {
    // Each client has its own connection, as separate Envoys would.
    this.client = new grpc.Client(`127.0.0.1:${port}`, grpc.credentials.createInsecure(), {
      "grpc.use_local_subchannel_pool": 1,
    });
    this.open();
  }

  private open(): void {
    if (this.closed) return;
    const stream = ++this.streams;
    const call = this.client.makeBidiStreamRequest(
      "/envoy.service.discovery.v3.AggregatedDiscoveryService/StreamAggregatedResources",
      (r: DiscoveryRequest) => Buffer.from(toBinary(DiscoveryRequestSchema, r)),
      (b: Buffer) => fromBinary(DiscoveryResponseSchema, b),
    );
    this.call = call;
    const request = (versionInfo = "", responseNonce = "") =>
      create(DiscoveryRequestSchema, {
        node: { id: `client-${this.id}` },
        typeUrl: TYPE_URLS.endpoint,
        resourceNames: ["web"],
        versionInfo,
        responseNonce,
      });
    call.on("data", (r: DiscoveryResponse) => {
      let endpoints = 0;
      for (const any of r.resources) {
        const cla = fromBinary(ClusterLoadAssignmentSchema, any.value);
        for (const l of cla.endpoints) endpoints += l.lbEndpoints.length;
      }
      this.responses.push({ at: Date.now(), endpoints, stream });
      call.write(request(r.versionInfo, r.nonce));
    });
    call.on("error", () => {});
    call.on("status", (s) => {
      this.ends.push({ at: Date.now(), code: s.code });
      setTimeout(() => this.open(), 50 + Math.random() * 50);
    });
    call.write(request());
  }

  close(): void {
    this.closed = true;
    this.call?.cancel();
    this.client.close();
  }
}

const metricSum = async (admin: string, name: string) => {
  const text = await (await fetch(`${admin}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(new RegExp(`^${name}(?:\\{[^}]*\\})? (\\S+)$`, "gm"))) sum += Number(m[1]);
  return sum;
};

describe("SIGTERM drains a replica gradually", () => {
  it(`moves ${CLIENTS} xDS clients to the other replica over the window, with no herd and no empty response`, async () => {
    // A rolling restart: every client is on A; B comes up and joins the Service; then A gets SIGTERM.
    const a = await startReplica("a");
    const service = await startBalancer(a);
    const clients = Array.from({ length: CLIENTS }, (_, i) => new MovingClient(service.port, i));
    try {
      await waitFor("every client served by A", 60_000, async () =>
        clients.every((c) => c.responses.length > 0) ? true : undefined,
      );
      expect(await metricSum(a.admin, "dnseds_xds_streams")).toBe(CLIENTS);
      const b = await startReplica("b");
      service.add(b);
      await waitFor("B in the Service", 10_000, async () => (service.isReady(b) ? true : undefined));

      const t0 = Date.now();
      a.proc.kill("SIGTERM");
      // /readyz turns 503 at once (well before the drain delay is over).
      await waitFor(
        "A's /readyz 503",
        DELAY_MS,
        async () => ((await fetch(`${a.admin}/readyz`)).status === 503 ? true : undefined),
        20,
      );
      const notReadyAfterMs = Date.now() - t0;
      // Not ready well before the delay is over: the balancer has stopped sending new clients here.
      expect(notReadyAfterMs).toBeLessThan(DELAY_MS);

      await waitFor("every client served by B", DELAY_MS + WINDOW_MS + 10_000, async () =>
        clients.every((c) => c.ends.length > 0 && c.responses.some((r) => r.stream > 1)) ? true : undefined,
      );
      const code = await Promise.race([
        a.exit,
        new Promise<string>((r) => setTimeout(() => r("still running"), GRACE_MS + 5_000)),
      ]);
      expect(code).toBe(0);

      // Every client: one end, UNAVAILABLE, after the delay and within the window (plus scheduling slack).
      const endOffsets = clients.map((c) => {
        expect(c.ends).toHaveLength(1);
        expect(c.ends[0]?.code).toBe(grpc.status.UNAVAILABLE);
        return (c.ends[0]?.at ?? 0) - t0;
      });
      const slackMs = 1_000;
      expect(Math.min(...endOffsets)).toBeGreaterThanOrEqual(DELAY_MS - 50);
      expect(Math.max(...endOffsets)).toBeLessThanOrEqual(DELAY_MS + WINDOW_MS + slackMs);

      // No herd: no stretch of a tenth of the window (sliding) saw more than three times the even share
      // of reconnections. A herd puts all 200 in one stretch; an even spread puts 20 in each. The times are
      // taken in this test's process, where 200 clients share one event loop: on a loaded 2-core box a
      // stall of a few hundred ms bunches the timestamps of reconnections that were in fact spread (48 in
      // one stretch was seen at load 8, against 25 when quiet), so the bound is 3× rather than 2×; it
      // still fails any drain that sends more than 30 % of the clients away in one tenth of the window.
      // Per fixed tenth, for the record.
      const buckets = Array.from({ length: 10 }, () => 0);
      const reconnects = clients.map((c) => {
        const first = c.responses.find((r) => r.stream > 1);
        return (first?.at ?? 0) - t0;
      });
      for (const at of reconnects) {
        const i = Math.min(9, Math.max(0, Math.floor(((at - DELAY_MS) / WINDOW_MS) * 10)));
        buckets[i] = (buckets[i] ?? 0) + 1;
      }
      const sorted = [...reconnects].sort((x, y) => x - y);
      const tenth = WINDOW_MS / 10;
      let busiest = 0;
      for (let i = 0, j = 0; i < sorted.length; i++) {
        while ((sorted[i] ?? 0) - (sorted[j] ?? 0) > tenth) j++;
        busiest = Math.max(busiest, i - j + 1);
      }
      const gaps = reconnects.map((at, i) => at - (endOffsets[i] ?? 0)).sort((x, y) => x - y);
      console.log(
        `drain: /readyz 503 after ${notReadyAfterMs} ms; streams ended ${Math.min(...endOffsets)}..${Math.max(...endOffsets)} ms after SIGTERM ` +
          `(delay ${DELAY_MS}, window ${WINDOW_MS}); reconnections per tenth of the window: ${buckets.join(" ")}; ` +
          `busiest ${tenth} ms: ${busiest}; first/last reconnection ${sorted[0]}/${sorted[sorted.length - 1]} ms; end→full response on B p50 ${gaps[Math.floor(gaps.length / 2)]} ms, max ${gaps[gaps.length - 1]} ms`,
      );
      expect(busiest).toBeLessThanOrEqual(Math.ceil((CLIENTS / 10) * 3));

      // Every response any client got, from A or B, held the whole assignment.
      for (const c of clients) for (const r of c.responses) expect(r.endpoints).toBe(ENDPOINTS);
      expect(await metricSum(b.admin, "dnseds_xds_streams")).toBe(CLIENTS);
      // The Service sent every reconnection to B.
      const after = service.connections.filter((x) => x.at >= t0);
      expect(after.length).toBeGreaterThanOrEqual(CLIENTS);
      expect(after.every((x) => x.to === 1)).toBe(true);
    } finally {
      for (const c of clients) c.close();
      await service.close();
    }
  }, 180_000);
});
