/**
 * Adversarial xDS clients, one test per attack from the security issue, against a dns-eds xDS server in
 * its own process (so its RSS is its own). Each test shows the attack refused with a status naming the
 * limit, the server's RSS growth under a ceiling (the unlimited server grew 447 MB on the first attack),
 * and a well-behaved client on the same server still getting updates within its normal time. The
 * figures are printed (`[adversarial]` lines) for the closing note.
 */
import { connect, type Socket } from "node:net";
import { status } from "@grpc/grpc-js";
import { afterEach, describe, expect, it } from "vitest";
import { TYPE_URLS } from "../../src/xds/type-urls.js";
import { until } from "../support/wait-for.js";
import { XdsServerProcess } from "../support/xds-server-process.js";
import { RawXdsClient } from "./raw-client.js";

const EDS = TYPE_URLS.endpoint;
const MB = 1024 * 1024;
/** RSS growth allowed while an attack runs (after GC), whatever the attack tried to make us hold. */
const RSS_CEILING = 40 * MB;
/** A well-behaved client's update may take this long during an attack (it takes a few ms when calm). */
const UPDATE_CEILING_MS = 2_000;

let servers: XdsServerProcess[] = [];
let clients: Array<{ close(): void }> = [];
afterEach(async () => {
  for (const c of clients) c.close();
  clients = [];
  await Promise.all(servers.map((s) => s.stop()));
  servers = [];
});

async function server(limits: object = {}): Promise<XdsServerProcess> {
  const s = await XdsServerProcess.start({ limits });
  servers.push(s);
  return s;
}

function client<K extends "sotw" | "delta">(kind: K, port: number): RawXdsClient<K> {
  const c = new RawXdsClient(kind, port);
  clients.push(c);
  return c;
}

/** A Delta client that subscribes to one CLA and ACKs what it gets, as a proxy would. */
class WellBehaved {
  private readonly c: RawXdsClient<"delta">;
  private round = 0;
  constructor(
    private readonly srv: XdsServerProcess,
    private readonly name = "good",
  ) {
    this.c = client("delta", srv.port);
  }

  async start(): Promise<void> {
    await this.srv.publish(this.name, ["10.0.0.1"], 9000);
    this.c.send({ node: { id: "good-node" }, typeUrl: EDS, resourceNamesSubscribe: [this.name] });
    const r = await this.c.next();
    this.c.send({ typeUrl: EDS, responseNonce: r.nonce });
  }

  /** Publishes a new version and returns how long the client took to receive it, in ms. */
  async updateMs(): Promise<number> {
    const port = 9001 + (this.round++ % 1000);
    const t0 = performance.now();
    const version = await this.srv.publish(this.name, ["10.0.0.1"], port);
    for (let i = 0; i < 10; i++) {
      const r = await this.c.next(10_000);
      this.c.send({ typeUrl: EDS, responseNonce: r.nonce });
      if (r.resources.some((x) => x.version === version)) return performance.now() - t0;
    }
    throw new Error("the well-behaved client did not get the update");
  }

  async medianUpdateMs(n = 5): Promise<number> {
    const times: number[] = [];
    for (let i = 0; i < n; i++) times.push(await this.updateMs());
    times.sort((a, b) => a - b);
    return times[Math.floor(n / 2)] as number;
  }
}

function report(what: string, figures: Record<string, number | string>): void {
  const parts = Object.entries(figures).map(([k, v]) => `${k}=${typeof v === "number" ? v.toFixed(1) : v}`);
  console.info(`[adversarial] ${what}: ${parts.join(" ")}`);
}

/** Runs `attack` between two RSS readings and two timings of the well-behaved client. */
async function measure(
  what: string,
  srv: XdsServerProcess,
  good: WellBehaved,
  attack: () => Promise<void>,
): Promise<{ rssGrowth: number }> {
  const calmMs = await good.medianUpdateMs();
  const before = await srv.rss();
  let duringMs = 0;
  await Promise.all([
    attack(),
    (async () => {
      // While the attack is under way.
      await new Promise((r) => setImmediate(r));
      duringMs = await good.updateMs();
    })(),
  ]);
  const afterMs = await good.medianUpdateMs(3);
  const after = await srv.rss();
  report(what, {
    rssBeforeMB: before / MB,
    rssAfterMB: after / MB,
    growthMB: (after - before) / MB,
    goodUpdateCalmMs: calmMs,
    goodUpdateDuringMs: duringMs,
    goodUpdateAfterMs: afterMs,
  });
  expect(after - before).toBeLessThan(RSS_CEILING);
  expect(duringMs).toBeLessThan(UPDATE_CEILING_MS);
  expect(afterMs).toBeLessThan(UPDATE_CEILING_MS);
  return { rssGrowth: after - before };
}

/** Log lines of one kind the server may write since `t0`: a burst of 20, then 2 per second. */
function allowedLines(t0: number): number {
  return 20 + Math.ceil(((performance.now() - t0) / 1000) * 2);
}

async function expectEnded(
  c: RawXdsClient<"sotw" | "delta">,
  limit: string,
  code = status.RESOURCE_EXHAUSTED,
) {
  const s = await c.status(15_000);
  expect(s.code, s.details).toBe(code);
  expect(s.details).toContain(`xds.limits.${limit}`);
}

describe("adversarial xDS clients", () => {
  it("one Delta stream subscribing 300 new EDS names of 1 MB each: refused at the first name (maxNameBytes)", async () => {
    const srv = await server();
    const good = new WellBehaved(srv);
    await good.start();
    const evil = client("delta", srv.port);
    await measure("300 × 1 MB names, one Delta stream", srv, good, async () => {
      evil.send({ node: { id: "evil" }, typeUrl: EDS, resourceNamesSubscribe: [] });
      for (let i = 0; i < 300 && !evil.ended; i++) {
        evil.send({ typeUrl: EDS, resourceNamesSubscribe: [`${i}-${"n".repeat(1_000_000)}`] });
        if (i % 10 === 9) await new Promise((r) => setImmediate(r));
      }
      await expectEnded(evil, "maxNameBytes");
    });
    expect((await srv.stats()).limitHits.maxNameBytes).toBe(1);
  });

  it("long names allowed (64 KiB): one Delta stream stops at its byte budget (maxNameBytesPerStream)", async () => {
    const srv = await server({ maxNameBytes: 64 * 1024 });
    const good = new WellBehaved(srv);
    await good.start();
    const evil = client("delta", srv.port);
    await measure("300 requests × 16 names × 60 KB, one Delta stream", srv, good, async () => {
      evil.send({ node: { id: "evil" }, typeUrl: EDS, resourceNamesSubscribe: [] });
      for (let i = 0; i < 300 && !evil.ended; i++) {
        const names = Array.from({ length: 16 }, (_, j) => `${i}.${j}-${"n".repeat(60_000)}`);
        evil.send({ typeUrl: EDS, resourceNamesSubscribe: names });
        await new Promise((r) => setImmediate(r));
      }
      await expectEnded(evil, "maxNameBytesPerStream");
    });
  });

  it("Delta initial_resource_versions count against the stream's byte budget", async () => {
    const srv = await server({ maxNameBytes: 64 * 1024, maxNameBytesPerStream: 512 * 1024 });
    const good = new WellBehaved(srv);
    await good.start();
    const evil = client("delta", srv.port);
    await measure("15 × 60 KB initial_resource_versions against 512 KiB", srv, good, async () => {
      // 900 KB fits in one request (maxRequestBytes 1 MiB) but not in the stream's budget.
      const initialResourceVersions = Object.fromEntries(
        Array.from({ length: 15 }, (_, i) => [`${i}-${"n".repeat(60_000)}`, "v1"]),
      );
      evil.send({ node: { id: "evil" }, typeUrl: EDS, initialResourceVersions });
      await expectEnded(evil, "maxNameBytesPerStream");
    });
  });

  it("many streams each under their own budget stop at the server's total (maxNameBytesTotal)", async () => {
    const srv = await server({
      maxNameBytes: 64 * 1024,
      maxNameBytesPerStream: 1 * MB,
      maxNameBytesTotal: 4 * MB,
    });
    const good = new WellBehaved(srv);
    await good.start();
    const evil = Array.from({ length: 8 }, () => client("delta", srv.port));
    await measure("8 streams × 960 KB of names against a 4 MiB total", srv, good, async () => {
      for (const [k, c] of evil.entries()) {
        const names = Array.from({ length: 16 }, (_, j) => `${k}.${j}-${"n".repeat(60_000)}`);
        c.send({ node: { id: `evil-${k}` }, typeUrl: EDS, resourceNamesSubscribe: names });
      }
      // Four fit (3.84 MB of 4 MiB); whichever four arrive first, the other four are refused.
      await until(async () => (await srv.stats()).limitHits.maxNameBytesTotal === 4, 15_000, "four refusals");
      await until(() => evil.filter((c) => c.ended).length === 4, 15_000, "four streams ended");
      for (const c of evil.filter((c) => c.ended)) await expectEnded(c, "maxNameBytesTotal");
      // The four that fit have their (absent) names reported to them and stay up.
      for (const c of evil.filter((c) => !c.ended))
        expect((await c.next()).removedResources).toHaveLength(16);
    });
  });

  it("a request naming 300,000 resources is refused before its names are decoded (maxNamesPerRequest)", async () => {
    const srv = await server({ maxRequestBytes: 8 * MB });
    const good = new WellBehaved(srv);
    await good.start();
    const evil = client("sotw", srv.port);
    await measure("one SotW request naming 300,000 resources", srv, good, async () => {
      const resourceNames = Array.from({ length: 300_000 }, (_, i) => `cluster-${i}`);
      evil.send({ node: { id: "evil" }, typeUrl: EDS, resourceNames });
      await expectEnded(evil, "maxNamesPerRequest");
    });
  });

  it("duplicates no longer pass: 300,000 copies of one name are refused (maxNamesPerRequest)", async () => {
    const srv = await server({ maxRequestBytes: 8 * MB });
    const good = new WellBehaved(srv);
    await good.start();
    const evil = client("delta", srv.port);
    await measure("one Delta request subscribing one name 300,000 times", srv, good, async () => {
      const same = Array.from({ length: 300_000 }, () => "payments");
      evil.send({ node: { id: "evil" }, typeUrl: EDS, resourceNamesSubscribe: same });
      await expectEnded(evil, "maxNamesPerRequest");
    });
  });

  it("a flood of requests on one stream is cut off by its token bucket (requestsPerSecond)", async () => {
    const srv = await server();
    const good = new WellBehaved(srv);
    await good.start();
    const evil = client("sotw", srv.port);
    await measure("20,000 subscription changes as fast as possible", srv, good, async () => {
      for (let i = 0; i < 20_000 && !evil.ended; i++) {
        evil.send({ node: { id: "evil" }, typeUrl: EDS, resourceNames: [`x${i % 7}`] });
        if (i % 500 === 499) await new Promise((r) => setImmediate(r));
      }
      await expectEnded(evil, "requestsPerSecond");
    });
  });

  it("connections from one address beyond maxConnectionsPerPeer are closed at accept; silent ones after idleTimeoutMs", async () => {
    const srv = await server({ maxConnectionsPerPeer: 10, idleTimeoutMs: 1_000 });
    const good = new WellBehaved(srv);
    await good.start();
    const sockets: Socket[] = [];
    await measure("500 silent TCP connections from 127.0.0.1", srv, good, async () => {
      const closed: boolean[] = [];
      for (let i = 0; i < 500; i++) {
        const s = connect(srv.port, "127.0.0.1");
        s.on("error", () => {});
        // Read (and drop) the server's SETTINGS so the socket can see the server's end.
        s.resume();
        s.on("close", () => {
          closed[i] = true;
        });
        sockets.push(s);
      }
      // 9 slots were left beside the good client's connection; the rest closed at once.
      await until(() => closed.filter(Boolean).length >= 491, 10_000, "491 refused connections");
      const stats = await srv.stats();
      expect(stats.limitHits.maxConnectionsPerPeer).toBe(491);
      // The 9 accepted ones never open a stream: closed after the idle timeout.
      await until(() => closed.filter(Boolean).length === 500, 10_000, "the 9 silent connections closed");
      expect((await srv.stats()).limitHits.idleTimeoutMs).toBe(9);
    });
    for (const s of sockets) s.destroy();
  });

  it("streams that never subscribe are ended after idleTimeoutMs; the table does not fill with them", async () => {
    const srv = await server({ idleTimeoutMs: 1_000, maxStreams: 60 });
    const good = new WellBehaved(srv);
    await good.start();
    const silent = Array.from({ length: 50 }, () => client("sotw", srv.port));
    await measure("50 streams that send one empty EDS request and wait", srv, good, async () => {
      for (const c of silent) c.send({ node: { id: "idle" }, typeUrl: EDS, resourceNames: [] });
      for (const c of silent) await expectEnded(c, "idleTimeoutMs", status.UNAVAILABLE);
    });
    expect((await srv.stats()).streams).toBe(1);
  });

  it("a NACK flood with 1 MB error_detail: few, short log lines, and the stream is cut off", async () => {
    const srv = await server();
    const good = new WellBehaved(srv);
    await good.start();
    await srv.publish("target", ["10.0.0.9"]);
    const evil = client("sotw", srv.port);
    const t0 = performance.now();
    await measure("2,000 NACKs of 1 MB each on one stream", srv, good, async () => {
      evil.send({ node: { id: "evil" }, typeUrl: EDS, resourceNames: ["target"] });
      const r = await evil.next();
      const message = "e".repeat(1_000_000);
      for (let i = 0; i < 2_000 && !evil.ended; i++) {
        evil.send({
          typeUrl: EDS,
          resourceNames: ["target"],
          responseNonce: r.nonce,
          errorDetail: { message },
        });
        if (i % 20 === 19) await new Promise((r) => setImmediate(r));
      }
      await expectEnded(evil, "requestsPerSecond");
    });
    const { logs } = await srv.stats();
    report("NACK flood log", { nackLines: logs.byMsg["xds NACK"] ?? 0, longestLine: logs.longest });
    // 20 at once, then 2 a second (however many NACKs came in).
    expect(logs.byMsg["xds NACK"]).toBeLessThanOrEqual(allowedLines(t0));
    expect(logs.longest).toBeLessThan(2_000);
  });

  it("requests for unsupported types flood the log with at most 20 short lines per 10 s", async () => {
    const srv = await server({ requestBurst: 100_000, requestsPerSecond: 100_000 });
    const good = new WellBehaved(srv);
    await good.start();
    const evil = client("delta", srv.port);
    const t0 = performance.now();
    await measure("5,000 requests for 4 KB type URLs", srv, good, async () => {
      for (let i = 0; i < 5_000; i++) {
        evil.send({ node: { id: "evil" }, typeUrl: `type.googleapis.com/evil.${i}.${"t".repeat(4_000)}` });
        if (i % 500 === 499) await new Promise((r) => setImmediate(r));
      }
      // A barrier: this stream's requests are handled in order, so once this one is answered all were.
      await srv.publish("after-flood", ["10.0.0.2"]);
      evil.send({ typeUrl: EDS, resourceNamesSubscribe: ["after-flood"] });
      await evil.next(15_000);
    });
    const { logs } = await srv.stats();
    report("unsupported-type flood log", {
      lines: logs.byMsg["xds request for an unsupported type"] ?? 0,
      longestLine: logs.longest,
    });
    expect(logs.byMsg["xds request for an unsupported type"]).toBeLessThanOrEqual(allowedLines(t0));
    expect(
      logs.suppressedSinceLast + (logs.byMsg["xds request for an unsupported type"] ?? 0),
    ).toBeLessThanOrEqual(5_000);
    expect(logs.longest).toBeLessThan(2_000);
  });
});
