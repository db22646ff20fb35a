import { Resolver } from "node:dns/promises";
import { createServer } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { EchoClient, type EchoClientInstance, type HelloReply } from "../../src/demo/backends.js";
import {
  defaultEmbeddedConfig,
  defaultEmbeddedConfigObject,
  defaultEmbeddedConfigYaml,
  startEmbeddedDefault,
} from "../../src/demo/embedded-default.js";
import { freePortOnAll } from "../support/grpc-backends.js";

const BACKEND_HOSTS = ["127.0.0.1", "127.0.0.2", "127.0.0.3", "::1"];

describe("embedded default config", () => {
  it("passes config validation and points DNS at the given zone port", () => {
    const config = defaultEmbeddedConfig(15353);
    expect(config.source).toBe("<embedded>");
    expect(config.dns.servers).toEqual(["127.0.0.1:15353"]);
    expect(config.cache.etcd).toBeUndefined();
    expect(config.clusters.map((c) => c.name)).toEqual(["echo", "echo-srv"]);
    expect(config.clusters[0]?.sources[0]).toMatchObject({
      kind: "dns",
      name: "echo.demo.dns-eds.test",
      port: 50051,
    });
    expect(config.clusters.every((c) => c.grpcListener)).toBe(true);
    expect(Object.isFrozen(config)).toBe(true);
    const v6 = defaultEmbeddedConfig(15353, { zoneHost: "::1", healthChecks: true, backendPort: 40000 });
    expect(v6.dns.servers).toEqual(["[::1]:15353"]);
    expect(v6.clusters[0]?.healthCheck?.type).toBe("grpc");
  });

  it("renders as YAML that round-trips to the same object", () => {
    expect(parse(defaultEmbeddedConfigYaml(5353))).toEqual(defaultEmbeddedConfigObject(5353));
  });

  it("starts the embedded zone server whose names the config uses", async () => {
    // A port free on every backend host: the default 50051 may be held by another test file's backends.
    const backendPort = await freePortOnAll(BACKEND_HOSTS);
    const d = await startEmbeddedDefault({ onZoneReload: () => {}, backendPort });
    try {
      expect(d.config.dns.servers).toEqual([d.zone.server]);
      const r = new Resolver({ timeout: 2000, tries: 1 });
      r.setServers([...d.config.dns.servers]);
      const source = d.config.clusters[0]?.sources[0];
      expect(source?.kind).toBe("dns");
      expect((await r.resolve4((source as { name: string }).name)).sort()).toEqual([
        "127.0.0.1",
        "127.0.0.2",
      ]);
      const srv = d.config.clusters[1]?.sources[0] as { name: string };
      expect(await r.resolveSrv(srv.name)).toHaveLength(3);
      expect(d.hints.join("\n")).toMatch(/xds:\/\/\/echo/);
      expect(d.hints.join("\n")).toMatch(/examples\/demo\/demo\.zone .*watched/);
      expect(d.backends.map((b) => b.name)).toEqual(["backend-1", "backend-2", "backend-3"]);
      expect(d.hints.join("\n")).toContain(`port ${backendPort}`);
      const c = new EchoClient(
        `127.0.0.3:${backendPort}`,
        grpc.credentials.createInsecure(),
      ) as EchoClientInstance;
      try {
        const reply = await new Promise<HelloReply | undefined>((resolve, reject) =>
          c.hello({}, { deadline: Date.now() + 3000 }, (e, r) => (e ? reject(e) : resolve(r))),
        );
        expect(reply).toEqual({ backend: "backend-3", address: `127.0.0.3:${backendPort}` });
      } finally {
        c.close();
      }
    } finally {
      await d.stop();
    }
  });

  it("starts without backends, saying so, when their port is taken", async () => {
    const backendPort = await freePortOnAll(BACKEND_HOSTS);
    const blocker = createServer();
    await new Promise<void>((r) => blocker.listen(backendPort, "127.0.0.2", r));
    try {
      const d = await startEmbeddedDefault({ onZoneReload: () => {}, backendPort });
      try {
        expect(d.backends).toEqual([]);
        expect(d.hints.join("\n")).toMatch(/no demo backends \(.*\); endpoints are published anyway/);
      } finally {
        await d.stop();
      }
    } finally {
      blocker.close();
    }
  });
});
