/**
 * Attack: someone who can write the etcd prefix (a stolen credential, a compromised neighbour) puts
 * values there by hand, hoping every replica serves them: garbage, an answer with a far-future
 * `resolvedAt` (the newest answer wins, so it would be pinned on every replica), an address that is
 * not an IP, a fake member that takes shards, a forged owner, a forged health key, and a well-formed
 * answer pointing at the metadata service. Real etcd, real bind9, the control plane as `dns-eds serve`
 * builds it. Each value is rejected (or, for the metadata answer, filtered by the rebinding guard),
 * counted and logged, and what is served does not change.
 */
import { createServer, type Server } from "node:net";
import { PassThrough } from "node:stream";
import { Etcd3 } from "etcd3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AdminServer, startAdminServer } from "../../src/admin/admin-server.js";
import { createLogger } from "../../src/admin/logger.js";
import { createMetrics, type DnsEdsMetrics } from "../../src/admin/metrics.js";
import { type RunningControlPlane, startServer } from "../../src/app/serve.js";
import { decodeAnswer, encodeAnswer } from "../../src/cache/answer-codec.js";
import { parseConfigObject } from "../../src/config/load-config.js";
import type { Answer } from "../../src/dns/types.js";
import { HealthStatus } from "../../src/gen/envoy/config/core/v3/health_check_pb.js";
import type { ClusterLoadAssignment } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { type EtcdServer, startEtcd } from "../support/etcd-server.js";
import { until, waitFor } from "../support/wait-for.js";

const ORIGIN = "poison.test";
const NAME = `api.${ORIGIN}.`;
const PREFIX = "/poison/";
const ROOT = `${PREFIX}v1/`;

let etcd: EtcdServer;
let bind: BindServer;
let app: RunningControlPlane;
let admin: AdminServer;
let metrics: DnsEdsMetrics;
let client: Etcd3;
let backend: Server;
let port = 0;
const logLines: Array<{ msg?: string; kind?: string; reason?: string; level?: number }> = [];

beforeAll(async () => {
  backend = createServer((s) => s.destroy());
  await new Promise<void>((r) => backend.listen(0, "127.0.0.1", r));
  port = (backend.address() as { port: number }).port;
  etcd = await startEtcd();
  // A long TTL: a forged answer that got in would stay, instead of being refreshed away within a second.
  bind = await startBindServer({ zones: [{ origin: ORIGIN, records: "api 300 IN A 127.0.0.1" }] });
  metrics = createMetrics({ processMetrics: false });
  const logStream = new PassThrough();
  logStream.on("data", (chunk: Buffer) => {
    for (const line of chunk.toString().split("\n")) if (line.trim()) logLines.push(JSON.parse(line));
  });
  const config = parseConfigObject({
    xds: { listen: "127.0.0.1:0", limits: { debounceMs: 20 } },
    admin: { listen: "127.0.0.1:0" },
    dns: { servers: [bind.server], timeoutMs: 300, attempts: 2, allowLoopback: true },
    cache: { etcd: { endpoints: etcd.endpoints, prefix: PREFIX } },
    clusters: [
      {
        name: "api",
        dns: { name: `api.${ORIGIN}`, port },
        ipFamily: "V4_ONLY",
        // Generous timeout and threshold: a loaded box must not flip the health this test compares.
        healthCheck: {
          type: "tcp",
          intervalMs: 300,
          timeoutMs: 300,
          healthyThreshold: 1,
          unhealthyThreshold: 5,
        },
      },
    ],
  });
  app = await startServer(config, {
    logger: createLogger({ level: "warn", destination: logStream }),
    metrics,
    replicaId: "replica-a",
  });
  admin = await startAdminServer({
    listen: "127.0.0.1:0",
    registry: metrics.registry,
    ...app.adminProviders,
  });
  client = new Etcd3({ hosts: etcd.endpoints });
}, 60_000);

afterAll(async () => {
  client?.close();
  await admin?.close();
  await app?.stop();
  await bind?.stop();
  await etcd?.close();
  backend?.close();
});

/** What a proxy would get, and what /clusters shows: the assignment's version and the endpoint's health. */
/**
 * Samples what is served every 25 ms while `event` runs (a positive event that comes after the replica
 * has processed the forgery: etcd's watch delivers in order), so a forged value applied even for a moment
 * is caught, and the check ends on an event instead of a fixed sleep.
 */
async function servedWhile<T>(event: () => Promise<T>): Promise<Array<Awaited<ReturnType<typeof served>>>> {
  const seen: Array<Awaited<ReturnType<typeof served>>> = [];
  let done = false;
  const sampling = (async () => {
    for (let i = 0; i < 2_000 && !done; i++) {
      seen.push(await served());
      await new Promise((r) => setTimeout(r, 25));
    }
  })();
  try {
    await event();
  } finally {
    done = true;
    await sampling;
  }
  seen.push(await served());
  return seen;
}

async function served(): Promise<{ version: string; endpoints: string[]; published: string[] }> {
  const cla = app.store.get(TYPE_URLS.endpoint, "api");
  // What the published assignment itself says of each endpoint: /clusters shows a health change at
  // once, the store a debounced rebuild later, so "before" must wait for both to agree.
  const message = cla?.resource as ClusterLoadAssignment | undefined;
  const published = (message?.endpoints ?? []).flatMap((l) =>
    l.lbEndpoints.map((lb) => {
      const a = lb.hostIdentifier.case === "endpoint" ? lb.hostIdentifier.value.address?.address : undefined;
      const sock = a?.case === "socketAddress" ? a.value : undefined;
      const p = sock?.portSpecifier.case === "portValue" ? sock.portSpecifier.value : 0;
      return `${sock?.address ?? "?"}:${p} ${HealthStatus[lb.healthStatus]}`;
    }),
  );
  const page = (await (await fetch(`${admin.url}/clusters?format=json`)).json()) as {
    clusters: Array<{ name: string; endpoints: Array<{ address: string; port: number; health: string }> }>;
  };
  const api = page.clusters.find((c) => c.name === "api");
  return {
    version: cla?.version ?? "",
    endpoints: (api?.endpoints ?? []).map((e) => `${e.address}:${e.port} ${e.health}`),
    published,
  };
}

async function rejected(kind: string, reason: string): Promise<number> {
  const text = await (await fetch(`${admin.url}/metrics`)).text();
  const m = new RegExp(
    `^dnseds_etcd_rejected_values_total\\{kind="${kind}",reason="${reason}"\\} (\\d+)`,
    "m",
  ).exec(text);
  return m ? Number(m[1]) : 0;
}

const answer = (over: Partial<Answer>): Answer => ({
  name: NAME,
  type: "A",
  rcode: 0,
  records: [{ type: "A", address: "127.0.0.66", ttl: 300 }],
  ttl: 300,
  server: "forged",
  resolvedAt: Date.now(),
  stale: false,
  ...over,
});

describe("etcd values written by somebody else", () => {
  let before: { version: string; endpoints: string[] };

  it("starts from a healthy, published endpoint", async () => {
    before = await waitFor("api published and HEALTHY", 20_000, async () => {
      const s = await served();
      const want = `127.0.0.1:${port} HEALTHY`;
      return s.endpoints.join() === want && s.published.join() === want && s.version ? s : undefined;
    });
    // The real health key sits on the replica's session lease.
    const kv = await client.get(`${ROOT}health/127.0.0.1|${port}`).exec();
    expect(kv.kvs[0]?.value.toString()).toBe("HEALTHY");
    expect(kv.kvs[0]?.lease).not.toBe("0");
  });

  it.each([
    ["garbage bytes", "dns", "decode", () => Buffer.from("\xff\x01not a protobuf at all", "latin1")],
    [
      "a far-future resolvedAt",
      "dns",
      "future_resolved_at",
      () => Buffer.from(encodeAnswer(answer({ resolvedAt: Date.now() + 86_400_000 }), "evil")),
    ],
    [
      "an address that is not an IP",
      "dns",
      "bad_address",
      () =>
        Buffer.from(
          encodeAnswer(answer({ records: [{ type: "A", address: "evil.example.com", ttl: 300 }] }), "evil"),
        ),
    ],
  ])(
    "an answer with %s is rejected, counted and logged; nothing served changes",
    async (_what, kind, reason, value) => {
      const n = await rejected(kind, reason);
      await client.put(`${ROOT}dns/A/${NAME}`).value(value()).exec();
      await until(async () => (await rejected(kind, reason)) === n + 1, 10_000, `${kind}/${reason} counted`);
      expect(
        logLines.some((l) => l.reason === reason && l.kind === kind && /not applied/.test(l.msg ?? "")),
      ).toBe(true);
      // The owner of the name writes its own answer back over the forgery; until then (and after) what
      // is served never changed.
      const seen = await servedWhile(() =>
        waitFor("the real answer back in etcd", 10_000, async () => {
          const kv = await client.get(`${ROOT}dns/A/${NAME}`).exec();
          const v = kv.kvs[0]?.value;
          return v && decodeAnswer(v).answer.records.some((r) => r.type === "A" && r.address === "127.0.0.1")
            ? true
            : undefined;
        }),
      );
      for (const s of seen) expect(s).toEqual(before);
    },
  );

  it("a fake member (no session lease) is rejected and takes no shard", async () => {
    const own = app.cache.status().ownership;
    const n = await rejected("members", "no_lease");
    await client.put(`${ROOT}members/evil`).value(String(Date.now())).exec();
    await until(
      async () => (await rejected("members", "no_lease")) === n + 1,
      10_000,
      "members/no_lease counted",
    );
    // A second forgery after the first, awaited the same way: etcd's watch delivers in order, so once it
    // is counted the replica has finished with the first (instead of a fixed sleep).
    await client.put(`${ROOT}members/evil-2`).value(String(Date.now())).exec();
    await until(
      async () => (await rejected("members", "no_lease")) === n + 2,
      10_000,
      "the second members/no_lease counted",
    );
    const after = app.cache.status().ownership;
    expect(after?.members).toEqual(["replica-a"]);
    expect(after?.ownedShards).toEqual(own?.ownedShards);
    expect(after?.balanced).toBe(true);
    expect(await served()).toEqual(before);
  });

  it("a forged owner key is rejected, and the rightful owner takes the shard back", async () => {
    const n = await rejected("owners", "no_lease");
    await client.put(`${ROOT}owners/0`).value("evil").exec();
    await until(
      async () => (await rejected("owners", "no_lease")) === n + 1,
      10_000,
      "owners/no_lease counted",
    );
    // The replica's own view follows its write back (through its watch), so both are awaited.
    await waitFor("owners/0 back with replica-a, and owned again", 10_000, async () => {
      const kv = await client.get(`${ROOT}owners/0`).exec();
      const back = kv.kvs[0]?.value.toString() === "replica-a" && kv.kvs[0]?.lease !== "0";
      return back && app.cache.status().ownership?.ownedShards.length === 64 ? true : undefined;
    });
    expect(await served()).toEqual(before);
  });

  it("a forged health key (no session lease) is rejected; the endpoint stays HEALTHY", async () => {
    const n = await rejected("health", "no_lease");
    await client.put(`${ROOT}health/127.0.0.1|${port}`).value("UNHEALTHY").exec();
    await until(
      async () => (await rejected("health", "no_lease")) === n + 1,
      10_000,
      "health/no_lease counted",
    );
    // The checker writes its result back on its lease, so a replica starting now reads the truth; until
    // then (and after) the endpoint stays HEALTHY in what is served.
    const seen = await servedWhile(() =>
      waitFor("the real health key back", 10_000, async () => {
        const kv = await client.get(`${ROOT}health/127.0.0.1|${port}`).exec();
        return kv.kvs[0]?.value.toString() === "HEALTHY" && kv.kvs[0]?.lease !== "0" ? true : undefined;
      }),
    );
    for (const s of seen) expect(s).toEqual(before);
  });

  it("a well-formed answer pointing at the metadata service passes etcd's checks and is stopped by the guard", async () => {
    await client
      .put(`${ROOT}dns/A/${NAME}`)
      .value(
        Buffer.from(
          encodeAnswer(
            // The real address kept and the metadata address added: a set that only grows is taken at once.
            answer({
              records: [
                { type: "A", address: "127.0.0.1", ttl: 300 },
                { type: "A", address: "169.254.169.254", ttl: 300 },
              ],
            }),
            "evil",
          ),
        ),
      )
      .exec();
    const note = await waitFor("the guard's note on /clusters", 10_000, async () => {
      const page = (await (await fetch(`${admin.url}/clusters?format=json`)).json()) as {
        clusters: Array<{ name: string; inputNotes?: string[] }>;
      };
      return page.clusters
        .find((c) => c.name === "api")
        ?.inputNotes?.find((x) => x.includes("169.254.169.254"));
    });
    expect(note).toContain("169.254.169.254 (metadata)");
    expect(await served()).toEqual(before);
  });

  it("health keys go with their endpoint: a reload that drops the cluster deletes the key", async () => {
    const next = parseConfigObject({
      dns: { servers: [bind.server], timeoutMs: 300, attempts: 2, allowLoopback: true },
      xds: { listen: "127.0.0.1:0", limits: { debounceMs: 20 } },
      admin: { listen: "127.0.0.1:0" },
      cache: { etcd: { endpoints: etcd.endpoints, prefix: PREFIX } },
      clusters: [{ name: "other", static: [{ address: "127.0.0.1", port: 9 }] }],
    });
    await app.reload(next);
    await waitFor("the health key deleted", 10_000, async () => {
      const kv = await client.get(`${ROOT}health/127.0.0.1|${port}`).exec();
      return kv.kvs.length === 0 ? true : undefined;
    });
  });
});
