/**
 * `dns-eds status` against two replicas sharing real etcd (and real BIND for the name they serve):
 * each replica reports its own clients over CSDS, and the command lists every client exactly once —
 * also a client that moved from one replica to the other — with the replica it is on. The /clients
 * page of each replica shows only its own clients, and the dnseds_xds_clients gauge counts them.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClientRow } from "../../src/admin/clients-page.js";
import { buildProgram } from "../../src/cli/program.js";
import { type BindServer, startBindServer } from "../support/bind-server.js";
import { type DnsEdsInstance, startDnsEds } from "../support/dns-eds-instance.js";
import { type EtcdServer, startEtcd } from "../support/etcd-server.js";
import { waitFor } from "../support/wait-for.js";
import { node, T } from "../xds/harness.js";
import { RawXdsClient } from "../xds/raw-client.js";

const ORIGIN = "csds-replicas.test";
let etcd: EtcdServer;
let bind: BindServer;
let a: DnsEdsInstance;
let b: DnsEdsInstance;
const raws: RawXdsClient<"sotw">[] = [];

async function status(...args: string[]): Promise<{ code: number; out: string; err: string }> {
  let out = "";
  let err = "";
  let code = -1;
  const program = await buildProgram({
    out: (t) => {
      out += t;
    },
    err: (t) => {
      err += t;
    },
    exit: (c) => {
      code = c;
    },
  });
  await program.parseAsync(["node", "dns-eds", "status", ...args]);
  return { code, out, err };
}

/** A client that subscribes to "web" and ACKs whatever it gets, until closed. */
function connect(port: number, id: string): RawXdsClient<"sotw"> {
  const c = new RawXdsClient("sotw", port);
  c.call.on("data", (r) =>
    c.send({
      typeUrl: T.endpoint,
      resourceNames: ["web"],
      versionInfo: r.versionInfo,
      responseNonce: r.nonce,
    }),
  );
  c.send({ node: node(id, "z1"), typeUrl: T.endpoint, resourceNames: ["web"] });
  raws.push(c);
  return c;
}

beforeAll(async () => {
  [etcd, bind] = await Promise.all([
    startEtcd(),
    startBindServer({
      zones: [{ origin: ORIGIN, records: "web 30 IN A 127.0.0.51\nweb 30 IN A 127.0.0.52" }],
    }),
  ]);
  const config = {
    dns: { servers: [bind.server], allowLoopback: true },
    cache: { etcd: { endpoints: etcd.endpoints, prefix: "/csds-replicas/" } },
    clusters: [{ name: "web", dns: { name: `web.${ORIGIN}`, port: 8080 } }],
  };
  a = await startDnsEds(config, { replicaId: "replica-a" });
  b = await startDnsEds(config, { replicaId: "replica-b" });
}, 60_000);

afterAll(async () => {
  for (const r of raws) r.close();
  await a?.stop();
  await b?.stop();
  await bind?.stop();
  await etcd?.close();
});

describe("dns-eds status with two replicas on etcd", () => {
  it("lists every client exactly once, on the replica it is connected to", async () => {
    connect(a.xdsPort, "two-1");
    connect(a.xdsPort, "two-2");
    connect(b.xdsPort, "two-3");
    const mover = connect(a.xdsPort, "two-4");
    const servers = ["-s", `127.0.0.1:${a.xdsPort}`, "-s", `127.0.0.1:${b.xdsPort}`];
    const rows = async () =>
      (JSON.parse((await status(...servers, "-o", "json")).out) as { clients: ClientRow[] }).clients;
    // Polled at 5/s: CSDS answers are rate-limited per replica (20/s).
    await waitFor(
      "four clients SYNCED across the replicas",
      30_000,
      async () =>
        (await rows()).filter((r) => r.types.EDS?.state === "SYNCED").length === 4 ? true : undefined,
      200,
    );
    // two-4 moves to replica b (a reconnect, as after a replica's drain).
    mover.close();
    connect(b.xdsPort, "two-4");
    await waitFor(
      "two-4 on replica b only",
      30_000,
      async () => {
        const r = await rows();
        return r.length === 4 && r.find((x) => x.id === "two-4")?.replica === `127.0.0.1:${b.xdsPort}`
          ? true
          : undefined;
      },
      200,
    );
    const final = await rows();
    expect(final.map((r) => [r.id, r.replica])).toEqual([
      ["two-1", `127.0.0.1:${a.xdsPort}`],
      ["two-2", `127.0.0.1:${a.xdsPort}`],
      ["two-3", `127.0.0.1:${b.xdsPort}`],
      ["two-4", `127.0.0.1:${b.xdsPort}`],
    ]);
    // Both replicas serve the same content: every client holds the same assignment version.
    expect(new Set(final.map((r) => r.types.EDS?.version)).size).toBe(1);

    const text = await status(...servers);
    expect(text.code).toBe(0);
    const lines = text.out.trim().split("\n").slice(1);
    expect(lines.map((l) => l.split(/\s+/)[0])).toEqual(["two-1", "two-2", "two-3", "two-4"]);
  }, 90_000);

  it("each replica's /clients page and gauge show only its own clients", async () => {
    const ids = async (cp: DnsEdsInstance) =>
      ((await cp.adminJson("/clients?format=json")) as { clients: ClientRow[] }).clients.map((c) => [
        c.id,
        c.replica,
      ]);
    expect(await ids(a)).toEqual([
      ["two-1", "replica-a"],
      ["two-2", "replica-a"],
    ]);
    expect(await ids(b)).toEqual([
      ["two-3", "replica-b"],
      ["two-4", "replica-b"],
    ]);
    expect(await a.metric("dnseds_xds_clients", 'type="eds",state="synced"')).toBe(2);
    expect(await b.metric("dnseds_xds_clients", 'type="eds",state="synced"')).toBe(2);
  });
});
