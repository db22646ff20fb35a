import { execFile } from "node:child_process";
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { promisify } from "node:util";
import { createRegistry, fromJson, type JsonValue } from "@bufbuild/protobuf";
import { describe, expect, it } from "vitest";
import { parse } from "yaml";
import { loadConfigFile } from "../../src/config/load-config.js";
import { parseZoneFile } from "../../src/demo/zone-file.js";
import { BootstrapSchema } from "../../src/gen/envoy/config/bootstrap/v3/bootstrap_pb.js";
import { RouterSchema } from "../../src/gen/envoy/extensions/filters/http/router/v3/router_pb.js";
import { HttpConnectionManagerSchema } from "../../src/gen/envoy/extensions/filters/network/http_connection_manager/v3/http_connection_manager_pb.js";
import { HttpProtocolOptionsSchema } from "../../src/gen/envoy/extensions/upstreams/http/v3/http_protocol_options_pb.js";

const run = promisify(execFile);
const file = (rel: string) => new URL(`../../examples/${rel}`, import.meta.url);
const text = (rel: string) => readFileSync(file(rel), "utf8");
// Every Any in the bootstrap must resolve to a known type, or fromJson fails: that is the point.
const registry = createRegistry(HttpConnectionManagerSchema, RouterSchema, HttpProtocolOptionsSchema);
const decodeBootstrap = (yamlText: string) =>
  fromJson(BootstrapSchema, parse(yamlText) as JsonValue, { registry });

describe("examples/docker-compose", () => {
  it("envoy.yaml decodes as envoy.config.bootstrap.v3.Bootstrap with no unknown field", () => {
    const b = decodeBootstrap(text("docker-compose/envoy.yaml"));
    expect(b.node?.id).toBe("envoy-1");
    const ads = b.dynamicResources?.adsConfig;
    expect(ads?.grpcServices[0]?.targetSpecifier.case).toBe("envoyGrpc");
    const adsCluster = (ads?.grpcServices[0]?.targetSpecifier.value as { clusterName: string } | undefined)
      ?.clusterName;
    // The ADS cluster must be static and speak HTTP/2, or Envoy cannot open the gRPC stream.
    const xds = b.staticResources?.clusters.find((c) => c.name === adsCluster);
    expect(xds).toBeDefined();
    const proto =
      xds?.typedExtensionProtocolOptions["envoy.extensions.upstreams.http.v3.HttpProtocolOptions"];
    expect(proto?.typeUrl).toBe("type.googleapis.com/envoy.extensions.upstreams.http.v3.HttpProtocolOptions");
    expect(b.dynamicResources?.cdsConfig?.configSourceSpecifier.case).toBe("ads");
    const hcm = b.staticResources?.listeners[0]?.filterChains[0]?.filters[0]?.configType;
    expect(hcm?.case).toBe("typedConfig");
  });

  it("the bootstrap decoder rejects unknown fields and unknown Any types", () => {
    const good = parse(text("docker-compose/envoy.yaml"));
    expect(() =>
      fromJson(BootstrapSchema, { ...good, node: { id: "x", clsuter: "typo" } }, { registry }),
    ).toThrow(/clsuter/);
    expect(() => fromJson(BootstrapSchema, good, { registry: createRegistry(RouterSchema) })).toThrow(
      /HttpConnectionManager|HttpProtocolOptions/,
    );
  });

  it("dns-eds.yaml passes config validation, and Envoy's routes name its clusters", async () => {
    const config = await loadConfigFile(file("docker-compose/dns-eds.yaml").pathname, {
      // The etcd and DNS addresses live on the compose network; validation must not need them.
      readResolvConf: () => undefined,
    });
    expect(config.dns.servers).toEqual(["172.28.0.53:53"]);
    expect(config.cache.etcd?.endpoints).toEqual(["http://etcd:2379"]);
    const names = config.clusters.map((c) => c.name);
    const envoy = text("docker-compose/envoy.yaml");
    const routed = [...envoy.matchAll(/route: \{ cluster: ([a-z0-9-]+)/g)].map((m) => m[1]);
    expect(routed).toEqual(["app-srv", "app"]);
    for (const r of routed) expect(names).toContain(r);
    expect(config.xds.listen).toBe("0.0.0.0:18000");
    expect(envoy).toMatch(/address: dns-eds, port_value: 18000/);
  });

  it("the CoreDNS zone parses and holds the names and backend addresses the other files use", async () => {
    const zone = parseZoneFile(text("docker-compose/compose.zone"));
    expect(text("docker-compose/Corefile")).toContain(`${zone.origin.slice(0, -1)}:53`);
    const compose = parse(text("docker-compose/docker-compose.yaml")) as {
      services: Record<string, { networks?: { mesh?: { ipv4_address?: string } } }>;
    };
    const ip = (svc: string) => compose.services[svc]?.networks?.mesh?.ipv4_address;
    const app = zone.records
      .filter((r) => r.name === `app.${zone.origin}` && r.type === "A")
      .map((r) => r.data);
    expect(app.sort()).toEqual([ip("backend-1"), ip("backend-2")].sort());
    const config = await loadConfigFile(file("docker-compose/dns-eds.yaml").pathname);
    expect(config.dns.servers).toEqual([`${ip("coredns")}:53`]);
    for (const c of config.clusters) {
      const src = c.sources[0];
      if (src?.kind === "dns" || src?.kind === "srv")
        expect(zone.records.some((r) => r.name === `${src.name}.`)).toBe(true);
    }
    expect(Object.keys(compose.services).sort()).toEqual(
      ["backend-1", "backend-2", "coredns", "dns-eds", "envoy", "etcd"].sort(),
    );
  });
});

describe("examples/demo", () => {
  it("demo.zone parses and dns-eds.yaml validates against its names", async () => {
    const zone = parseZoneFile(text("demo/demo.zone"));
    const config = await loadConfigFile(file("demo/dns-eds.yaml").pathname);
    for (const c of config.clusters) {
      for (const src of c.sources) {
        if (src.kind === "dns" || src.kind === "srv")
          expect(zone.records.some((r) => r.name === `${src.name}.`)).toBe(true);
      }
    }
  });
});

describe("dns-eds validate on the example configs", () => {
  // CI builds dist/ before the tests (npm run build); the CLI is what a user runs on these files.
  const cli = new URL("../../dist/cli/main.js", import.meta.url).pathname;
  it.each(["docker-compose/dns-eds.yaml", "demo/dns-eds.yaml"])(
    "accepts examples/%s (exit 0)",
    async (rel) => {
      const { stdout, stderr } = await run(
        process.execPath,
        [cli, "validate", "--config", file(rel).pathname],
        {
          timeout: 20_000,
        },
      );
      expect(stdout + stderr).toMatch(/valid, 2 cluster\(s\)/);
    },
  );

  it("rejects a file that is not a dns-eds config (exit 2)", async () => {
    await expect(
      run(process.execPath, [cli, "validate", "--config", file("docker-compose/envoy.yaml").pathname], {
        timeout: 20_000,
      }),
    ).rejects.toMatchObject({ code: 2 });
  });
});

describe("examples/grpc-proxyless", () => {
  it("bootstrap.json is accepted by grpc-js-xds' own bootstrap validation", async () => {
    const require = createRequire(import.meta.url);
    const { validateBootstrapConfig } = require("@grpc/grpc-js-xds/build/src/xds-bootstrap.js") as {
      validateBootstrapConfig(obj: unknown): {
        xdsServers: Array<{ server_uri: string; channel_creds: Array<{ type: string }> }>;
        node: { id: string };
      };
    };
    const info = validateBootstrapConfig(JSON.parse(text("grpc-proxyless/bootstrap.json")));
    expect(info.xdsServers[0]?.channel_creds[0]?.type).toBe("insecure");
    expect(info.xdsServers[0]?.server_uri).toBe("127.0.0.1:18000");
    expect(info.node.id).toBe("grpc-proxyless-example");
    expect(() => validateBootstrapConfig({ xds_servers: [{ server_uri: "x" }] })).toThrow();
  });

  it("client.mjs is valid JavaScript", async () => {
    await expect(
      run(process.execPath, ["--check", file("grpc-proxyless/client.mjs").pathname]),
    ).resolves.toBeDefined();
  });
});
