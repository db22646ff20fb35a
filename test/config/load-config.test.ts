import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { ConfigError } from "../../src/config/config-error.js";
import { CLUSTER_DEFAULTS, DNS_DEFAULTS, HEALTH_DEFAULTS, XDS_DEFAULTS } from "../../src/config/defaults.js";
import { loadConfigFile, parseConfigText } from "../../src/config/load-config.js";

const noResolvConf = { readResolvConf: () => undefined };

/** Parses and returns the problem lines, failing the test when the text is accepted. */
function problemsOf(text: string): string[] {
  try {
    parseConfigText(text, noResolvConf);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe("ERR_CONFIG_INVALID");
    return (err as ConfigError).problems.map((p) => `${p.path}: ${p.message}`);
  }
  throw new Error(`accepted:\n${text}`);
}

const oneCluster = (body: string) =>
  `clusters:\n  - name: ok\n    dns: { name: ok.example.com, port: 80 }\n${body}`;

describe("config errors name the path, the expectation and the actual value", () => {
  it.each([
    [
      "port out of range",
      oneCluster("  - name: b\n    dns: { name: b.example.com, port: 70000 }\n"),
      "clusters[1].dns.port: expected 1..65535, got 70000",
    ],
    ["wrong type", "dns: { timeoutMs: fast }\n", 'dns.timeoutMs: expected an integer 10..60000, got "fast"'],
    ["unknown key", "xds: { listen: '0.0.0.0:1', lissen: x }\n", "xds.lissen: unknown key"],
    ["unknown top-level key", "clusterz: []\n", "clusterz: unknown key"],
    [
      "bad enum",
      oneCluster("    ipFamily: V5\n"),
      'clusters[0].ipFamily: expected one of "V4_ONLY" | "V6_ONLY" | "V4_PREFERRED" | "V6_PREFERRED" | "ALL", got "V5"',
    ],
    [
      "empty label",
      "clusters:\n  - name: a\n    dns: { name: 'a..example.com', port: 80 }\n",
      'clusters[0].dns.name: expected no empty labels, label 2 is empty (in "a..example.com")',
    ],
    [
      "label too long",
      `clusters:\n  - name: a\n    dns: { name: ${"x".repeat(64)}.com, port: 80 }\n`,
      `clusters[0].dns.name: expected labels of at most 63 characters, label 1 has 64 (in "${"x".repeat(64)}.com")`,
    ],
    [
      "name too long",
      `clusters:\n  - name: a\n    dns: { name: ${Array(5).fill("y".repeat(60)).join(".")}, port: 80 }\n`,
      "clusters[0].dns.name: expected a DNS name of at most 253 characters, got 304",
    ],
    [
      "not LDH",
      "clusters:\n  - name: a\n    dns: { name: 'pay_ments.example.com', port: 80 }\n",
      'clusters[0].dns.name: expected letters, digits and inner hyphens in each label, label 1 is "pay_ments"',
    ],
    [
      "duplicate cluster",
      oneCluster("  - name: ok\n    srv: { name: _grpc._tcp.ok.example.com }\n"),
      'clusters[1].name: expected a unique cluster name, "ok" is also clusters[0].name',
    ],
    [
      "cluster name unusable as resource name",
      "clusters:\n  - name: 'pay ments'\n    dns: { name: a.example.com, port: 80 }\n",
      'clusters[0].name: expected 1..253 letters, digits, ".", "_" or "-" starting with a letter or digit, got "pay ments"',
    ],
    [
      "no source",
      "clusters:\n  - name: a\n",
      "clusters[0]: expected exactly one of dns, srv, static, sources in a cluster, got none",
    ],
    [
      "two sources",
      "clusters:\n  - name: a\n    dns: { name: a.example.com, port: 1 }\n    srv: { name: _x._tcp.a.example.com }\n",
      "clusters[0]: expected exactly one of dns, srv, static, sources in a cluster, got dns and srv",
    ],
    [
      "shorthand field with sources",
      "clusters:\n  - name: a\n    weight: 2\n    sources:\n      - dns: { name: a.example.com, port: 1 }\n",
      "clusters[0].weight: expected only with the dns/srv/static shorthand; with sources, set it on each source",
    ],
    [
      "static address not an IP",
      "clusters:\n  - name: a\n    static: [{ address: host.example.com, port: 80 }]\n",
      'clusters[0].static[0].address: expected an IPv4 or IPv6 address, got "host.example.com"',
    ],
    [
      "IPv6 server without brackets",
      "dns: { servers: ['::1:53'] }\n",
      'dns.servers[0]: expected IPv6 in brackets with a port ("[::1]:53"), got "::1:53"',
    ],
    [
      "DNS server as a host name",
      "dns: { servers: ['ns.example.com:53'] }\n",
      'dns.servers[0]: expected an IP address ("10.0.0.2:53" or "[fd00::2]:53"), got "ns.example.com:53"',
    ],
    [
      "bad CIDR",
      "dns: { rebindingGuard: ['10.0.0.0/33'] }\n",
      'dns.rebindingGuard[0]: expected a prefix length 0..32, got "10.0.0.0/33"',
    ],
    [
      "TTL clamps inverted",
      "dns: { minTtl: 60, maxTtl: 30 }\n",
      "dns.maxTtl: expected ≥ minTtl (60), got 30",
    ],
    [
      "health timeout over interval",
      oneCluster("    healthCheck: { type: grpc, intervalMs: 1000, timeoutMs: 2000 }\n"),
      "clusters[0].healthCheck.timeoutMs: expected ≤ intervalMs (1000), got 2000",
    ],
    [
      "health timeout over inherited interval",
      `healthDefaults: { intervalMs: 1000 }\n${oneCluster("    healthCheck: { timeoutMs: 1500 }\n")}`,
      "clusters[0].healthCheck.timeoutMs: expected ≤ intervalMs (1000, with healthDefaults), got 1500",
    ],
    [
      "etcd prefix",
      "cache: { etcd: { endpoints: ['http://127.0.0.1:2379'], prefix: dns-eds } }\n",
      'cache.etcd.prefix: expected a prefix starting and ending with "/", got "dns-eds"',
    ],
    [
      "etcd URL",
      "cache: { etcd: { endpoints: ['127.0.0.1:2379'] } }\n",
      'cache.etcd.endpoints[0]: expected an http:// or https:// URL, got "127.0.0.1:2379"',
    ],
    [
      "missing required",
      "clusters:\n  - dns: { name: a.example.com, port: 1 }\n",
      "clusters[0].name: expected a cluster name, got nothing (missing)",
    ],
    ["YAML syntax", "xds: [1\n", "expected valid YAML, line 2, column 1"],
    ["duplicate YAML key", "xds: {}\nxds: {}\n", "expected valid YAML"],
    ["list where a mapping belongs", "xds: [1, 2]\n", "xds: expected object, got a list of 2"],
  ])("%s", (_label, text, expected) => {
    const problems = problemsOf(text);
    expect(
      problems.some((p) => p.includes(expected)),
      problems.join("\n"),
    ).toBe(true);
  });

  it("lists every problem of a file, one per line, in the message", () => {
    try {
      parseConfigText(
        "xds: { listen: nope }\nclusters:\n  - name: a\n    dns: { name: a.example.com, port: 0 }\n    extra: 1\n",
        { ...noResolvConf, source: "bad.yaml" },
      );
      expect.unreachable();
    } catch (err) {
      const message = (err as Error).message;
      expect(message).toContain("invalid config bad.yaml:");
      expect(message).toContain("  clusters[0].dns.port: expected 1..65535, got 0");
      expect(message).toContain("  clusters[0].extra: unknown key");
      expect(message).toContain('  xds.listen: expected host:port with a port, got "nope"');
    }
  });

  it("rejects a TLS file that cannot be read, naming the resolved path", () => {
    const problems = problemsOf(
      "xds: { tls: { certFile: /nonexistent/cert.pem, keyFile: /nonexistent/key.pem } }\nclusters: []\n",
    );
    expect(problems).toContain(
      'xds.tls.certFile: expected a readable file, got "/nonexistent/cert.pem" (/nonexistent/cert.pem)',
    );
    expect(problems.some((p) => p.startsWith("xds.tls.keyFile:"))).toBe(true);
  });

  it("rejects a file that does not exist with the file error code", async () => {
    await expect(loadConfigFile("/nonexistent/dns-eds.yaml")).rejects.toMatchObject({
      code: "ERR_CONFIG_INVALID",
      message: expect.stringContaining("expected a readable file, got ENOENT"),
    });
  });
});

describe("defaults and mapping", () => {
  it("refuses an empty file and a file without clusters, naming `clusters: []` as the way to serve none", () => {
    for (const text of ["", "# nothing yet\n", "dns: { servers: ['10.0.0.2'] }\n", "cluster: []\n"]) {
      const problems = problemsOf(text);
      expect(problems).toContain(
        "clusters: expected a list of clusters (write `clusters: []` to serve none on purpose), got nothing (missing)",
      );
    }
    expect(problemsOf("clusters: {}\n")).toContain("clusters: expected a list of clusters, got a mapping");
  });

  it("applies every default to a file that only says `clusters: []`", () => {
    const c = parseConfigText("clusters: []\n", {
      readResolvConf: () => "nameserver 10.1.2.3\nnameserver 2001:db8::53\n",
    });
    expect(c.xds.listen).toBe(XDS_DEFAULTS.listen);
    expect(c.xds.limits).toEqual(XDS_DEFAULTS.limits);
    expect(c.admin.listen).toBe("127.0.0.1:19000");
    expect(c.dns.servers).toEqual(["10.1.2.3:53", "[2001:db8::53]:53"]);
    expect(c.dns.serversFromSystem).toBe(true);
    expect(c.dns.timeoutMs).toBe(DNS_DEFAULTS.timeoutMs);
    expect(c.dns.backoff).toEqual(DNS_DEFAULTS.backoff);
    expect(c.cache).toEqual({ localMaxEntries: 100_000, refreshAheadMaxLeadMs: 2000 });
    expect(c.healthDefaults.intervalMs).toBe(HEALTH_DEFAULTS.intervalMs);
    expect(c.clusters).toEqual([]);
  });

  it("falls back to 127.0.0.1:53 when resolv.conf names no server", () => {
    expect(parseConfigText("clusters: []", noResolvConf).dns.servers).toEqual(["127.0.0.1:53"]);
    expect(
      parseConfigText("clusters: []", { readResolvConf: () => "search example.com\n" }).dns.servers,
    ).toEqual(["127.0.0.1:53"]);
  });

  it("normalizes configured servers and adds the default port", () => {
    const c = parseConfigText(
      "dns: { servers: ['10.0.0.2', '[fd00::2]:5353'] }\nclusters: []\n",
      noResolvConf,
    );
    expect(c.dns.servers).toEqual(["10.0.0.2:53", "[fd00::2]:5353"]);
    expect(c.dns.serversFromSystem).toBe(false);
  });

  it("maps the cluster shorthand to one ClusterSpec source with default locality", () => {
    const c = parseConfigText(
      `clusters:
  - name: payments
    dns: { name: payments.svc.example.com, port: 8080 }
    ipFamily: V6_PREFERRED
    metadata: { version: v2 }
    locality: { zone: z1 }
    healthCheck: { type: grpc, intervalMs: 5000, timeoutMs: 1000, unhealthyThreshold: 3, healthyThreshold: 2 }
    grpcListener: true
`,
      noResolvConf,
    );
    expect(c.clusters).toEqual([
      {
        name: "payments",
        sources: [
          {
            kind: "dns",
            name: "payments.svc.example.com",
            port: 8080,
            locality: { region: "", zone: "z1", subZone: "" },
            weight: 1,
            metadata: { version: "v2" },
            txtMetadata: false,
          },
        ],
        ipFamily: "V6_PREFERRED",
        happyEyeballs: false,
        zoneAware: false,
        endpointHostname: true,
        grpcListener: true,
        connectTimeoutMs: CLUSTER_DEFAULTS.connectTimeoutMs,
        lbPolicy: "ROUND_ROBIN",
        overprovisioningFactor: 140,
        drainMs: CLUSTER_DEFAULTS.drainMs,
        flapGuard: {
          emptyGraceMs: DNS_DEFAULTS.emptyGraceMs,
          shrinkThreshold: DNS_DEFAULTS.shrinkThreshold,
          shrinkHoldMs: DNS_DEFAULTS.shrinkHoldMs,
        },
        allowLoopback: false,
        inputLimits: { maxSrvTargets: 64, maxEndpoints: 10_000, maxTxtKeys: 32, maxTxtBytes: 4096 },
        healthCheck: {
          type: "grpc",
          intervalMs: 5000,
          timeoutMs: 1000,
          healthyThreshold: 2,
          unhealthyThreshold: 3,
          initialJitter: HEALTH_DEFAULTS.initialJitter,
          intervalJitter: HEALTH_DEFAULTS.intervalJitter,
          grpcService: "",
        },
      },
    ]);
  });

  it("maps the rebinding-guard opt-out: global default, the cluster's own word wins, extra ranges on every cluster", () => {
    const c = parseConfigText(
      `dns: { allowLoopback: true, rebindingGuard: ["10.99.0.0/16"] }
clusters:
  - name: a
    dns: { name: a.example.com, port: 80 }
  - name: b
    dns: { name: b.example.com, port: 80 }
    allowLoopback: false
`,
      noResolvConf,
    );
    expect(c.clusters.map((x) => [x.name, x.allowLoopback, x.denyRanges])).toEqual([
      ["a", true, ["10.99.0.0/16"]],
      ["b", false, ["10.99.0.0/16"]],
    ]);
    const d = parseConfigText(
      "clusters: [{ name: a, dns: { name: a.example.com, port: 80 } }]\n",
      noResolvConf,
    );
    expect(d.clusters[0]?.allowLoopback).toBe(false);
    expect(d.clusters[0]?.denyRanges).toBeUndefined();
  });

  it("maps endpointHostname (default true) and refuses a value that is not a boolean", () => {
    const c = parseConfigText(
      `clusters:
  - name: a
    dns: { name: a.example.com, port: 80 }
  - name: b
    dns: { name: b.example.com, port: 80 }
    endpointHostname: false
`,
      noResolvConf,
    );
    expect(c.clusters.map((x) => [x.name, x.endpointHostname])).toEqual([
      ["a", true],
      ["b", false],
    ]);
    expect(problemsOf(oneCluster("    endpointHostname: no\n"))).toEqual([
      'clusters[0].endpointHostname: expected true or false, got "no"',
    ]);
  });

  it("maps srv, static and multi-source clusters with localities, weights and selectors", () => {
    const c = parseConfigText(
      `healthDefaults: { type: http, path: /healthz, expectedStatuses: [200, 204] }
clusters:
  - name: api
    srv: { name: _grpc._tcp.api.example.com }
  - name: legacy
    static: [{ address: "10.0.0.7", port: 9000 }, { address: "fd00::7", port: 9000 }]
  - name: multi
    zoneAware: true
    selector: { canary: "true" }
    healthCheck: {}
    sources:
      - dns: { name: a.example.com., port: 443 }
        locality: { region: eu, zone: eu-1a, subZone: rack1 }
        weight: 3
        txtMetadata: true
      - srv: { name: _http._tcp.b.example.com }
        metadata: { canary: "true" }
`,
      noResolvConf,
    );
    const [api, legacy, multi] = c.clusters;
    expect(api?.sources).toEqual([
      expect.objectContaining({ kind: "srv", name: "_grpc._tcp.api.example.com", weight: 1 }),
    ]);
    expect(api?.healthCheck).toBeUndefined();
    expect(legacy?.sources[0]).toMatchObject({
      kind: "static",
      addresses: [
        { address: "10.0.0.7", port: 9000 },
        { address: "fd00::7", port: 9000 },
      ],
    });
    expect(multi?.zoneAware).toBe(true);
    expect(multi?.selector).toEqual({ canary: "true" });
    expect(multi?.sources).toEqual([
      {
        kind: "dns",
        name: "a.example.com.",
        port: 443,
        locality: { region: "eu", zone: "eu-1a", subZone: "rack1" },
        weight: 3,
        metadata: {},
        txtMetadata: true,
      },
      {
        kind: "srv",
        name: "_http._tcp.b.example.com",
        locality: { region: "", zone: "", subZone: "" },
        weight: 1,
        metadata: { canary: "true" },
        txtMetadata: false,
      },
    ]);
    // `healthCheck: {}` takes every field from healthDefaults.
    expect(multi?.healthCheck).toEqual({
      type: "http",
      intervalMs: HEALTH_DEFAULTS.intervalMs,
      timeoutMs: HEALTH_DEFAULTS.timeoutMs,
      healthyThreshold: HEALTH_DEFAULTS.healthyThreshold,
      unhealthyThreshold: HEALTH_DEFAULTS.unhealthyThreshold,
      initialJitter: HEALTH_DEFAULTS.initialJitter,
      intervalJitter: HEALTH_DEFAULTS.intervalJitter,
      path: "/healthz",
      expectedStatuses: [200, 204],
    });
  });

  it("maps etcd with TLS and auth, resolving relative files against the config's folder", async () => {
    const dir = mkdtempSync(join(tmpdir(), "dns-eds-config-"));
    try {
      writeFileSync(join(dir, "ca.pem"), "x");
      writeFileSync(join(dir, "pw"), "secret");
      const file = join(dir, "dns-eds.yaml");
      writeFileSync(
        file,
        "cache:\n  localMaxEntries: 5000\n  etcd:\n    endpoints: [https://127.0.0.1:2379]\n    tls: { caFile: ca.pem }\n    auth: { username: dns-eds, passwordFile: ./pw }\nclusters: []\n",
      );
      const c = await loadConfigFile(file, noResolvConf);
      expect(c.source).toBe(file);
      expect(c.cache).toEqual({
        localMaxEntries: 5000,
        refreshAheadMaxLeadMs: 2000,
        etcd: {
          endpoints: ["https://127.0.0.1:2379"],
          prefix: "/dns-eds/",
          dialTimeoutMs: 3000,
          allowPlaintextPassword: false,
          maxClockSkewMs: 5000,
          tls: { caFile: join(dir, "ca.pem") },
          auth: { username: "dns-eds", passwordFile: join(dir, "pw") },
        },
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it("maps health-check TLS (files resolved, verification on unless said) and refuses it on tcp/http checks", () => {
    const c = parseConfigText(
      "healthDefaults: { type: https, tls: { caFile: /etc/ca.pem, serverName: api.example.com } }\nclusters:\n  - name: a\n    static: [{ address: 10.0.0.1, port: 443 }]\n    healthCheck: {}\n  - name: b\n    static: [{ address: 10.0.0.2, port: 50051 }]\n    healthCheck: { type: grpc, tls: { insecureSkipVerify: true } }\n",
      { ...noResolvConf, fileReadable: () => true },
    );
    expect(c.clusters[0]?.healthCheck?.tls).toEqual({ caFile: "/etc/ca.pem", serverName: "api.example.com" });
    expect(c.clusters[1]?.healthCheck?.tls).toEqual({ insecureSkipVerify: true });
    expect(() =>
      parseConfigText(
        "clusters:\n  - name: a\n    static: [{ address: 10.0.0.1, port: 80 }]\n    healthCheck: { type: tcp, tls: { caFile: x } }\n",
        { ...noResolvConf, fileReadable: () => true },
      ),
    ).toThrow(/clusters\[0\]\.healthCheck\.tls: expected only with type https or grpc, got type tcp/);
  });

  it("refuses an etcd password over plaintext http:// unless allowPlaintextPassword says so", () => {
    const etcd = (extra: string) =>
      `cache:\n  etcd:\n    endpoints: [http://127.0.0.1:2379]\n    auth: { username: u, password: p }\n${extra}clusters: []\n`;
    expect(() => parseConfigText(etcd(""), noResolvConf)).toThrow(
      /cache\.etcd\.auth: expected TLS to etcd \(https:\/\/ endpoints or a tls section\) when sending a password/,
    );
    expect(
      parseConfigText(etcd("    allowPlaintextPassword: true\n"), noResolvConf).cache.etcd?.auth,
    ).toEqual({
      username: "u",
      password: "p",
    });
    // https:// endpoints (or a tls section) are fine without the flag.
    const tls = parseConfigText(etcd("").replace("http://", "https://"), noResolvConf);
    expect(tls.cache.etcd?.allowPlaintextPassword).toBe(false);
  });

  it("deep-freezes the result", () => {
    const c = parseConfigText(oneCluster(""), noResolvConf);
    expect(Object.isFrozen(c)).toBe(true);
    expect(Object.isFrozen(c.dns.servers)).toBe(true);
    expect(Object.isFrozen(c.clusters[0]?.sources[0]?.locality)).toBe(true);
    expect(() => {
      (c.xds.limits as { debounceMs: number }).debounceMs = 1;
    }).toThrow(TypeError);
  });
});

describe("example configs", () => {
  const root = join(import.meta.dirname, "..", "..");

  it("the full example in docs/config.md is valid", () => {
    const doc = readFileSync(join(root, "docs", "config.md"), "utf8");
    const m = /<!-- full-example -->\s*```yaml\n([\s\S]*?)```/.exec(doc);
    expect(m?.[1]).toBeTruthy();
    const c = parseConfigText(m?.[1] ?? "", { ...noResolvConf, fileReadable: () => true });
    expect(c.clusters.length).toBeGreaterThan(1);
  });

  it("every dns-eds*.yaml under examples/ is valid", () => {
    const found: string[] = [];
    const walk = (dir: string, depth: number) => {
      if (depth > 4) return;
      let names: string[];
      try {
        names = readdirSync(dir);
      } catch {
        return;
      }
      for (const name of names) {
        const p = join(dir, name);
        if (statSync(p).isDirectory()) walk(p, depth + 1);
        else if (/^dns-eds.*\.ya?ml$/.test(name)) found.push(p);
      }
    };
    walk(join(root, "examples"), 0);
    // The examples the docs point at must be among them: a walk that finds nothing proves nothing.
    const relative = found.map((p) => p.slice(root.length + 1)).sort();
    expect(relative).toEqual(
      expect.arrayContaining(["examples/demo/dns-eds.yaml", "examples/docker-compose/dns-eds.yaml"]),
    );
    for (const file of found) {
      const text = readFileSync(file, "utf8");
      const c = parseConfigText(text, { ...noResolvConf, source: file, fileReadable: () => true });
      expect(c.clusters.length, file).toBeGreaterThan(0);
    }
  });
});
