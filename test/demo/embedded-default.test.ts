import { Resolver } from "node:dns/promises";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import {
  defaultEmbeddedConfig,
  defaultEmbeddedConfigObject,
  defaultEmbeddedConfigYaml,
  startEmbeddedDefault,
} from "../../src/demo/embedded-default.js";

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
    const d = await startEmbeddedDefault({ onZoneReload: () => {} });
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
    } finally {
      await d.stop();
    }
  });
});
