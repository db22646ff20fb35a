/**
 * Two real `dns-eds serve` processes on one real etcd and one real BIND: only the owner of a name
 * queries DNS while both serve it, and when the owner is SIGKILLed (no shutdown, no lease revoke) the
 * survivor takes the name over within its TTL + the session TTL, resolves it itself and serves a DNS
 * change, without ever withdrawing the endpoints. Checked only through what an operator sees: the
 * admin endpoints (/clusters, /metrics) of each process.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { type EtcdServer, startEtcd } from "../support/etcd-server.js";
import { buildPrivate } from "../support/private-build.js";
import { waitFor } from "../support/wait-for.js";

const ORIGIN = "fleet.dns-eds.test";
const NAME = `api.${ORIGIN}`;
const TTL_S = 5;
/** name-ownership.ts' default session TTL: how long a dead owner's claim outlives it. */
const SESSION_TTL_S = 5;

let buildDir: string;
let workDir: string;
let etcd: EtcdServer;
let bind: BindServer;
const procs: ChildProcessWithoutNullStreams[] = [];

beforeAll(async () => {
  [buildDir, etcd, bind] = await Promise.all([
    buildPrivate("replicas-", ["cli/main.ts", "app/serve.ts"]),
    startEtcd(),
    startBindServer({ zones: [{ origin: ORIGIN, records: `api ${TTL_S} IN A 127.0.0.11` }] }),
  ]);
  workDir = mkdtempSync(join(tmpdir(), "dns-eds-replicas-"));
}, 180_000);

afterAll(async () => {
  for (const p of procs) p.kill("SIGKILL");
  await Promise.all([bind?.stop(), etcd?.close()]);
  rmSync(buildDir, { recursive: true, force: true });
  rmSync(workDir, { recursive: true, force: true });
});

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Replica {
  name: string;
  proc: ChildProcessWithoutNullStreams;
  url: string;
}

async function startReplica(name: string): Promise<Replica> {
  const file = join(workDir, `${name}.yaml`);
  writeFileSync(
    file,
    [
      'admin: { listen: "127.0.0.1:0" }',
      'xds: { listen: "127.0.0.1:0" }',
      `dns: { servers: ["${bind.server}"], timeoutMs: 300, minTtl: 1, allowLoopback: true }`,
      `cache: { etcd: { endpoints: ${JSON.stringify(etcd.endpoints)}, prefix: "/replicas-test/" } }`,
      "clusters:",
      `  - name: api`,
      `    dns: { name: ${NAME}, port: 8080 }`,
      "",
    ].join("\n"),
  );
  const proc = spawn(process.execPath, [join(buildDir, "cli", "main.js"), "serve", "--config", file], {
    cwd: workDir,
  });
  procs.push(proc);
  let out = "";
  proc.stdout.on("data", (c: Buffer) => {
    out += c.toString();
  });
  proc.stderr.on("data", (c: Buffer) => {
    out += c.toString();
  });
  const url = await waitFor(`${name}'s admin URL`, 30_000, async () => {
    return /"url":"(http:\/\/127\.0\.0\.1:\d+)","msg":"admin listening"/.exec(out)?.[1];
  }).catch((err: Error) => {
    throw new Error(`${err.message}\noutput of ${name}:\n${out}`);
  });
  return { name, proc, url };
}

/** Addresses the replica serves for the cluster, leaving out those draining after they left DNS. */
async function served(r: Replica): Promise<string[]> {
  const body = (await (await fetch(`${r.url}/clusters?format=json`)).json()) as {
    clusters: Array<{ name: string; endpoints: Array<{ address: string; health: string }> }>;
  };
  const endpoints = body.clusters.find((c) => c.name === "api")?.endpoints ?? [];
  return endpoints.filter((e) => e.health !== "DRAINING").map((e) => e.address);
}

/** DNS lookups this replica's cache sent upstream (every type and outcome). */
async function upstreamLookups(r: Replica): Promise<number> {
  const text = await (await fetch(`${r.url}/metrics`)).text();
  let sum = 0;
  for (const m of text.matchAll(/^dnseds_cache_upstream_lookups_total\{[^}]*\} (\d+)/gm)) sum += Number(m[1]);
  return sum;
}

/** A gauge without labels from the replica's /metrics, or undefined when absent. */
async function gauge(r: Replica, name: string): Promise<number | undefined> {
  const text = await (await fetch(`${r.url}/metrics`)).text();
  const m = new RegExp(`^${name} (\\S+)$`, "m").exec(text);
  return m ? Number(m[1]) : undefined;
}

describe("replicas as separate processes on one etcd", () => {
  it("only the owner queries DNS; SIGKILL of the owner moves the name to the survivor without a gap", async () => {
    const a = await startReplica("a");
    const b = await startReplica("b");
    const both = [a, b];
    for (const r of both) {
      await waitFor(`${r.name} to serve ${NAME}`, 30_000, async () =>
        (await served(r)).includes("127.0.0.11") ? true : undefined,
      );
    }

    // Ownership settles first: until both replicas see each other, each may resolve the name. Settled
    // means one full TTL in which only one replica went upstream (bounded: at most 8 TTL windows).
    const windowDelta = async (ms: number) => {
      const before = await Promise.all(both.map(upstreamLookups));
      await sleep(ms);
      const after = await Promise.all(both.map(upstreamLookups));
      return after.map((n, i) => n - (before[i] ?? 0));
    };
    let settled = false;
    for (let i = 0; i < 8 && !settled; i++) {
      settled = (await windowDelta(TTL_S * 1000)).filter((n) => n > 0).length === 1;
    }
    expect(settled, "ownership never settled on one replica within 8 TTLs").toBe(true);
    // Steady state over three TTLs: one replica keeps the name fresh, the other only reads etcd. (The
    // window is the behaviour measured: lookups per TTL, not a wait for a condition.)
    const delta = await windowDelta(3 * TTL_S * 1000);
    const resolving = both.filter((_, i) => (delta[i] ?? 0) > 0);
    expect(resolving, `upstream lookups per replica over 3 TTLs: ${delta.join(", ")}`).toHaveLength(1);
    // About one refresh per TTL (refresh-ahead 0.5–1 s before expiry), not one per replica.
    const total = delta.reduce((s, n) => s + n, 0);
    expect(total).toBeGreaterThanOrEqual(2);
    expect(total).toBeLessThanOrEqual(5);

    // An operator sees the split on /metrics: two members, balanced, the 64 shards shared between them.
    const owned = await Promise.all(both.map((r) => gauge(r, "dnseds_ownership_owned_shards")));
    expect(await Promise.all(both.map((r) => gauge(r, "dnseds_ownership_members")))).toEqual([2, 2]);
    expect(await Promise.all(both.map((r) => gauge(r, "dnseds_ownership_balanced")))).toEqual([1, 1]);
    expect(owned.every((n) => (n ?? 0) > 0)).toBe(true);
    expect((owned[0] ?? 0) + (owned[1] ?? 0)).toBe(64);

    const owner = resolving[0] as Replica;
    const survivor = owner === a ? b : a;
    const survivorLookups = await upstreamLookups(survivor);

    owner.proc.kill("SIGKILL");
    const killedAt = Date.now();
    await bind.setZone({ origin: ORIGIN, records: `api ${TTL_S} IN A 127.0.0.12` });

    // The survivor serves the change once it owns the name and refreshes it: within the old answer's
    // TTL + the dead owner's session TTL, plus slack for a loaded CI box. It never serves an empty set.
    const bound = (TTL_S + SESSION_TTL_S) * 1000 + 8_000;
    let sawEmpty = false;
    await waitFor("the survivor to serve the DNS change", bound, async () => {
      const addrs = await served(survivor);
      if (addrs.length === 0) sawEmpty = true;
      return addrs.includes("127.0.0.12") ? addrs : undefined;
    });
    const tookMs = Date.now() - killedAt;
    expect(sawEmpty).toBe(false);
    expect(tookMs).toBeLessThan(bound);
    expect(await upstreamLookups(survivor)).toBeGreaterThan(survivorLookups);
    expect(await served(survivor)).toEqual(["127.0.0.12"]);
    // Alone now: the survivor holds every shard.
    await waitFor("the survivor to hold every shard", 10_000, async () =>
      (await gauge(survivor, "dnseds_ownership_owned_shards")) === 64 ? true : undefined,
    );
    expect(await gauge(survivor, "dnseds_ownership_members")).toBe(1);
    expect(await gauge(survivor, "dnseds_ownership_balanced")).toBe(1);
  }, 120_000);
});
