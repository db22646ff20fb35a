/**
 * CSDS read by grpc-go (v1.85.0) through go-control-plane's generated CSDS client — a grpcdebug-style
 * peer built by scripts/prereqs/csds-go-client.mjs from test/peers/csds-go-client. Both methods, a
 * node-id prefix matcher, the four statuses as Go's enum names, the NACK message and contents on request.
 */
import { execFile } from "node:child_process";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ResourceStore } from "../../src/xds/resource-store.js";
import type { XdsServer } from "../../src/xds/server.js";
import { until } from "../support/wait-for.js";
import { node, putCla, startServer, T } from "../xds/harness.js";
import { RawXdsClient } from "../xds/raw-client.js";

const BIN = join(import.meta.dirname, "..", "..", ".tmp", "tools", "csds-go-client", "csds-go-client");
const run = promisify(execFile);

let store: ResourceStore;
let server: XdsServer;
let port: number;
const raws: RawXdsClient<"sotw">[] = [];

async function goCsds(
  ...args: string[]
): Promise<{ clients: string[][]; resources: string[][]; contents: string[][] }> {
  const { stdout } = await run(BIN, ["-server", `127.0.0.1:${port}`, ...args], { timeout: 20_000 });
  // Lines end with empty fields (no NACK): split without trimming them away.
  const rows = stdout
    .split("\n")
    .filter((l) => l !== "")
    .map((l) => l.split("\t"));
  return {
    clients: rows.filter((r) => r[0] === "CLIENT").map((r) => r.slice(1)),
    resources: rows.filter((r) => r[0] === "RESOURCE").map((r) => r.slice(1)),
    contents: rows.filter((r) => r[0] === "CONTENT").map((r) => r.slice(1)),
  };
}

beforeAll(async () => {
  ({ store, server, port } = await startServer());
  putCla(store, "go-a", "10.7.0.1");
  putCla(store, "go-b", "10.7.0.2");
  const ok = new RawXdsClient("sotw", port);
  ok.send({ node: node("go-ok", "go-zone"), typeUrl: T.endpoint, resourceNames: ["go-a", "go-none"] });
  const r = await ok.next();
  ok.send({
    typeUrl: T.endpoint,
    resourceNames: ["go-a", "go-none"],
    versionInfo: r.versionInfo,
    responseNonce: r.nonce,
  });
  const bad = new RawXdsClient("sotw", port);
  bad.send({ node: node("go-bad"), typeUrl: T.endpoint, resourceNames: ["go-b"] });
  const rb = await bad.next();
  bad.send({
    typeUrl: T.endpoint,
    resourceNames: ["go-b"],
    responseNonce: rb.nonce,
    errorDetail: { code: 3, message: "go-b: refused" },
  });
  const slow = new RawXdsClient("sotw", port);
  slow.send({ node: node("go-slow"), typeUrl: T.endpoint, resourceNames: ["go-a"] });
  await slow.next();
  raws.push(ok, bad, slow);
  await until(
    () => {
      const s = new Map(server.clients().map((c) => [c.nodeId, c.resources.map((x) => x.status).join()]));
      return (
        s.get("go-ok") === "SYNCED,NOT_SENT" && s.get("go-bad") === "ERROR" && s.get("go-slow") === "STALE"
      );
    },
    5_000,
    "three clients in their states",
  );
}, 30_000);

afterAll(async () => {
  for (const r of raws) r.close();
  await server?.shutdown(1000);
});

describe("CSDS through grpc-go", () => {
  for (const mode of ["fetch", "stream"] as const) {
    it(`${mode}: every state, versions and the NACK message`, async () => {
      const out = await goCsds("-prefix", "go-", ...(mode === "stream" ? ["-stream"] : []));
      expect(out.clients.map((c) => c[0])).toEqual(["go-bad", "go-ok", "go-slow"]);
      expect(out.clients.find((c) => c[0] === "go-ok")?.[1]).toBe("go-zone");
      expect(out.clients.find((c) => c[0] === "go-ok")?.[2]).toMatch(/:\d+$/);
      const va = store.get(T.endpoint, "go-a")?.version;
      expect(out.resources).toEqual([
        ["go-bad", T.endpoint, "go-b", "ERROR", "", "go-b: refused"],
        ["go-ok", T.endpoint, "go-a", "SYNCED", va, ""],
        ["go-ok", T.endpoint, "go-none", "NOT_SENT", "", ""],
        ["go-slow", T.endpoint, "go-a", "STALE", va, ""],
      ]);
      expect(out.contents).toEqual([]);
    });
  }

  it("contents on request", async () => {
    const out = await goCsds("-prefix", "go-ok", "-contents");
    expect(out.contents.map((c) => [c[0], c[1]])).toEqual([["go-a", T.endpoint]]);
    expect(Number(out.contents[0]?.[2])).toBeGreaterThan(10);
  });
});
