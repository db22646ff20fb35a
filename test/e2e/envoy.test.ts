/**
 * End to end through the real binary with a real Envoy (SotW, then Delta ADS): `dns-eds serve` as a
 * child process resolving from BIND 9 and health-checking HTTP backends that answer with their own
 * address, checked on where Envoy sends requests: DNS additions and removals, an unhealthy backend, SRV
 * priority failover, and what Envoy does when dns-eds stops (keeps its endpoints) and comes back on the
 * same port (takes new ones).
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stringify } from "yaml";
import { type BindServer, type BindZone, startBindServer } from "../support/bind-server.js";
import { buildDnsEds, type DnsEdsProcess, spawnDnsEds } from "../support/dns-eds-process.js";
import { ADS_MODES, dumpEnvoyLogsOnFailure, type Envoy, startEnvoy, tally } from "../support/envoy.js";
import { freePort } from "../support/etcd-server.js";
import { freePortOnAll } from "../support/grpc-backends.js";
import { type HttpWho, startHttpWhos } from "../support/http-who-backend.js";
import { waitFor } from "../support/wait-for.js";

const ORIGIN = "envoy.e2e.test";
const [H1, H2, H3, H4] = ["127.0.0.111", "127.0.0.112", "127.0.0.113", "127.0.0.114"] as [
  string,
  string,
  string,
  string,
];

let main: string;
let workDir: string;
let configPath: string;
let bind: BindServer;
let backends: Map<string, HttpWho>;
let port = 0;
let xdsPort = 0;
let dnsEds: DnsEdsProcess | undefined;

dumpEnvoyLogsOnFailure();

const zone = (web: string[]): BindZone => ({
  origin: ORIGIN,
  negativeTtl: 1,
  records: [
    ...web.map((h) => `web 1 IN A ${h}`),
    `_http._tcp.srv 1 IN SRV 0 1 ${port} a`,
    `_http._tcp.srv 1 IN SRV 1 1 ${port} b`,
    `a 1 IN A ${H1}`,
    `b 1 IN A ${H2}`,
  ].join("\n"),
});

const healthCheck = {
  type: "http",
  path: "/health",
  intervalMs: 300,
  timeoutMs: 250,
  healthyThreshold: 1,
  unhealthyThreshold: 1,
};

async function startDnsEdsProcess(): Promise<DnsEdsProcess> {
  writeFileSync(
    configPath,
    stringify({
      admin: { listen: "127.0.0.1:0" },
      // A fixed port: Envoy's bootstrap names it, and a restarted dns-eds must come back on it.
      xds: { listen: `127.0.0.1:${xdsPort}`, limits: { debounceMs: 20 } },
      dns: { servers: [bind.server], timeoutMs: 500, attempts: 2, minTtl: 1, allowLoopback: true },
      shutdown: { drainDelayMs: 0, drainWindowMs: 200, graceMs: 200 },
      clusters: [
        { name: "web", dns: { name: `web.${ORIGIN}`, port }, ipFamily: "V4_ONLY", healthCheck, drainMs: 0 },
        {
          name: "srv",
          srv: { name: `_http._tcp.srv.${ORIGIN}` },
          ipFamily: "V4_ONLY",
          healthCheck,
          drainMs: 0,
        },
      ],
    }),
  );
  dnsEds = await spawnDnsEds({ main, config: configPath, cwd: workDir });
  return dnsEds;
}

beforeAll(async () => {
  workDir = mkdtempSync(join(tmpdir(), "dns-eds-e2e-envoy-"));
  configPath = join(workDir, "dns-eds.yaml");
  port = await freePortOnAll([H1, H2, H3, H4]);
  xdsPort = await freePort();
  [main, backends, bind] = await Promise.all([
    buildDnsEds("e2e-envoy-"),
    startHttpWhos([H1, H2, H3, H4], port),
    startBindServer({ zones: [{ origin: ORIGIN, records: "" }] }),
  ]);
  await bind.setZone(zone([H1, H2, H3]));
  await startDnsEdsProcess();
}, 180_000);

afterAll(async () => {
  await dnsEds?.kill();
  for (const b of backends?.values() ?? []) await b.close();
  await bind?.stop();
  rmSync(workDir, { recursive: true, force: true });
});

const spreadOf = async (envoy: Envoy, cluster: string, n: number) =>
  [...(await tally(n, () => envoy.get(cluster))).keys()].sort();
const until = (what: string, check: () => Promise<boolean>, ms = 20_000) =>
  waitFor(what, ms, async () => ((await check()) ? true : undefined));

describe.each(ADS_MODES)("dns-eds serve with Envoy (ADS %s)", (mode) => {
  let envoy: Envoy;
  beforeAll(async () => {
    await bind.setZone(zone([H1, H2, H3]));
    envoy = await startEnvoy({ xdsPorts: [xdsPort], ads: mode });
    await until(
      "Envoy to reach web's three hosts",
      async () => (await spreadOf(envoy, "web", 15)).join() === [H1, H2, H3].join(),
    );
  }, 90_000);
  afterAll(async () => {
    await envoy?.stop();
  });

  it("follows DNS: a removed record gets no requests, an added one gets its share", async () => {
    await bind.setZone(zone([H1, H2]));
    await until(
      `no requests to ${H3}`,
      async () => (await spreadOf(envoy, "web", 12)).join() === [H1, H2].join(),
    );
    await bind.setZone(zone([H1, H2, H4]));
    await until(
      `requests to ${H4}`,
      async () => (await spreadOf(envoy, "web", 15)).join() === [H1, H2, H4].join(),
    );
    await bind.setZone(zone([H1, H2, H3]));
    await until(
      "back to the three",
      async () => (await spreadOf(envoy, "web", 15)).join() === [H1, H2, H3].join(),
    );
  }, 90_000);

  it("an unhealthy backend is UNHEALTHY in Envoy and gets no requests; healthy again, it is back", async () => {
    backends.get(H2)?.setHealthy(false);
    try {
      await until(
        "Envoy to hold H2 as UNHEALTHY",
        async () => (await envoy.hosts("web"))?.find((h) => h.address === H2)?.edsHealth === "UNHEALTHY",
      );
      expect(await spreadOf(envoy, "web", 12)).toEqual([H1, H3]);
    } finally {
      backends.get(H2)?.setHealthy(true);
    }
    await until("H2 back", async () => (await spreadOf(envoy, "web", 15)).includes(H2));
  }, 60_000);

  it("SRV: priority 1 gets requests only while priority 0 fails its checks", async () => {
    await until("requests on priority 0", async () => (await spreadOf(envoy, "srv", 8)).join() === H1);
    backends.get(H1)?.setHealthy(false);
    try {
      await until("failover to priority 1", async () => (await spreadOf(envoy, "srv", 8)).join() === H2);
    } finally {
      backends.get(H1)?.setHealthy(true);
    }
    await until("back on priority 0", async () => (await spreadOf(envoy, "srv", 8)).join() === H1);
  }, 60_000);

  it("dns-eds stops: Envoy keeps its endpoints; restarted on the same port, it pushes the news", async () => {
    const p = dnsEds as DnsEdsProcess;
    expect(await p.stop()).toEqual({ code: 0, signal: null });
    await until(
      "Envoy to see the control plane gone",
      async () => (await envoy.stat("control_plane.connected_state")) === 0,
    );
    // DNS changes while no control plane runs: Envoy cannot know, and keeps serving what it has.
    await bind.setZone(zone([H1, H4]));
    expect(await spreadOf(envoy, "web", 15)).toEqual([H1, H2, H3]);
    await startDnsEdsProcess();
    await until(
      "Envoy to follow the restarted dns-eds",
      async () => (await spreadOf(envoy, "web", 12)).join() === [H1, H4].join(),
      30_000,
    );
    await bind.setZone(zone([H1, H2, H3]));
    await until(
      "back to the three",
      async () => (await spreadOf(envoy, "web", 15)).join() === [H1, H2, H3].join(),
    );
  }, 120_000);
});
