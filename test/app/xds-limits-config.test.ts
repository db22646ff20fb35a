/**
 * `xds.limits` from YAML reach the running xDS port, as `dns-eds serve` wires them: the streams per
 * connection a client is told, the connections one address may hold, the keepalive interval, the request
 * rate; and a reload applies the live ones to what comes next while naming those that need a restart.
 */
import { connect as h2connect } from "node:http2";
import { connect, type Socket } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLogger } from "../../src/admin/logger.js";
import { type RunningControlPlane, startServer } from "../../src/app/serve.js";
import { parseConfigText } from "../../src/config/load-config.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";
import { TcpProxy } from "../support/tcp-proxy.js";
import { until } from "../support/wait-for.js";
import { RawXdsClient } from "../xds/raw-client.js";

const yaml = (limits: string) => `
xds:
  listen: "127.0.0.1:0"
  limits: { ${limits} }
admin: { listen: "127.0.0.1:0" }
dns: { servers: ["127.0.0.1:1"] }
clusters: []
`;
const FIRST = "maxStreamsPerConnection: 7, maxConnectionsPerPeer: 2, keepaliveMs: 1000, requestBurst: 3";

let app: RunningControlPlane;
const cleanup: Array<() => void> = [];

beforeAll(async () => {
  const logger = createLogger({ level: "silent" });
  app = await startServer(parseConfigText(yaml(FIRST)), { logger });
});

afterAll(async () => {
  for (const f of cleanup.reverse()) f();
  await app?.stop();
});

const closed = (s: Socket) => new Promise<void>((resolve) => s.once("close", () => resolve()));

describe("xds.limits from the config file", () => {
  it("tells clients maxStreamsPerConnection, pings them every keepaliveMs, and rate-limits requests", async () => {
    const proxy = new TcpProxy(app.xdsPort);
    cleanup.push(() => void proxy.stop());
    const session = h2connect(`http://127.0.0.1:${await proxy.start()}`);
    session.on("error", () => {});
    cleanup.push(() => session.destroy());
    const settings = await new Promise<number | undefined>((resolve) =>
      session.once("remoteSettings", (s) => resolve(s.maxConcurrentStreams)),
    );
    expect(settings).toBe(7);
    // keepaliveMs 1000: two pings within a bounded wait (the default would be one per 30 s).
    await until(() => proxy.serverPings >= 2, 5_000, "two keepalive pings");

    const c = new RawXdsClient("delta", app.xdsPort);
    cleanup.push(() => c.close());
    for (let i = 0; i < 4; i++)
      c.send({ node: { id: "n" }, typeUrl: TYPE_URLS.endpoint, resourceNamesSubscribe: [`x${i}`] });
    const s = await c.status();
    expect(s.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(s.details).toContain("xds.limits.requestsPerSecond");
  });

  it("holds maxConnectionsPerPeer, and a reload changes it for the next connection", async () => {
    const other = await startServer(parseConfigText(yaml("maxConnectionsPerPeer: 2")), {
      logger: createLogger({ level: "silent" }),
    });
    cleanup.push(() => void other.stop());
    const open = (): Socket => {
      const s = connect(other.xdsPort, "127.0.0.1");
      s.on("error", () => {});
      s.resume();
      cleanup.push(() => s.destroy());
      return s;
    };
    const alive = (s: Socket) => !s.destroyed && !s.readableEnded;
    // Silent sockets stay open until the idle timeout (30 s): any that closes sooner was refused.
    const a = open();
    const b = open();
    await closed(open());
    expect([alive(a), alive(b)]).toEqual([true, true]);

    await other.reload(parseConfigText(yaml("maxConnectionsPerPeer: 3, keepaliveMs: 2000")));
    const d = open();
    await closed(open());
    expect([alive(a), alive(b), alive(d)]).toEqual([true, true, true]);
  });

  it("ages connections out after maxConnectionAgeMs and refuses responses over maxResponseBytes", async () => {
    const hosts = Array.from(
      { length: 3_000 },
      (_, i) => `{ address: "10.1.${i >> 8}.${i & 255}", port: 80 }`,
    );
    const text = yaml(
      "maxConnectionAgeMs: 1000, maxConnectionAgeGraceMs: 0, maxResponseBytes: 65536",
    ).replace("clusters: []", `clusters:\n  - { name: big, static: [${hosts.join(", ")}] }`);
    const other = await startServer(parseConfigText(text), { logger: createLogger({ level: "silent" }) });
    cleanup.push(() => void other.stop());
    await until(() => other.store.get(TYPE_URLS.endpoint, "big") !== undefined, 10_000, "big published");
    const c = new RawXdsClient("sotw", other.xdsPort, undefined, {
      channelOptions: { "grpc.use_local_subchannel_pool": 1 },
    });
    cleanup.push(() => c.close());
    c.send({ node: { id: "n" }, typeUrl: TYPE_URLS.endpoint, resourceNames: ["big"] });
    const s = await c.status();
    expect(s.code).toBe(grpc.status.RESOURCE_EXHAUSTED);
    expect(s.details).toContain("xds.limits.maxResponseBytes");

    const session = h2connect(`http://127.0.0.1:${other.xdsPort}`);
    session.on("error", () => {});
    cleanup.push(() => session.destroy());
    const t0 = Date.now();
    await new Promise<void>((resolve) => session.once("goaway", () => resolve()));
    // 1000 ms ± 10 %.
    expect(Date.now() - t0).toBeGreaterThanOrEqual(850);
  });

  it("applies the limits it checks itself at once and names grpc-js' settings as needing a restart", async () => {
    const report = await app.reload(
      parseConfigText(
        yaml(
          FIRST.replace("keepaliveMs: 1000", "keepaliveMs: 2000").replace(
            "requestBurst: 3",
            "requestBurst: 5",
          ),
        ),
      ),
    );
    expect(report.applied).toContain("xds.limits.requestBurst");
    expect(report.needsRestart).toEqual(["xds.limits.keepaliveMs"]);
  });
});
