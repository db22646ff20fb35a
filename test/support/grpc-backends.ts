/**
 * Real gRPC backends for end-to-end tests, and the client side that watches where calls land: each
 * backend answers `/dnseds.test.Who/Ask` with its own address and serves grpc.health.v1, so a test can
 * flip it to NOT_SERVING. All backends share one port, free on every host at once, so a single DNS
 * source (name + port) reaches them all.
 */
import { createServer } from "node:net";
import * as grpc from "@grpc/grpc-js";
import { HealthImplementation } from "grpc-health-check";

export const WHO_METHOD = "/dnseds.test.Who/Ask";

export interface WhoBackend {
  host: string;
  server: grpc.Server;
  health: HealthImplementation;
}

/** A port free for TCP on every host at once (bounded tries). */
export async function freePortOnAll(hosts: readonly string[]): Promise<number> {
  for (let attempt = 0; attempt < 20; attempt++) {
    const p = 20_000 + Math.floor(Math.random() * 40_000);
    let ok = true;
    for (const host of hosts) {
      ok = await new Promise<boolean>((resolve) => {
        const s = createServer();
        s.once("error", () => resolve(false));
        s.listen(p, host, () => s.close(() => resolve(true)));
      });
      if (!ok) break;
    }
    if (ok) return p;
  }
  throw new Error("no port free on every backend host");
}

/** Starts a backend on host:port that answers with its host and reports SERVING. */
export async function startWhoBackend(host: string, port: number): Promise<WhoBackend> {
  const server = new grpc.Server();
  const health = new HealthImplementation({ "": "SERVING" });
  health.addToServer(server);
  server.register(
    WHO_METHOD,
    (_c: grpc.ServerUnaryCall<Buffer, Buffer>, cb: grpc.sendUnaryData<Buffer>) => cb(null, Buffer.from(host)),
    (b: Buffer) => b,
    (b: Buffer) => b,
    "unary",
  );
  const addr = host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
  await new Promise<void>((resolve, reject) =>
    server.bindAsync(addr, grpc.ServerCredentials.createInsecure(), (e) => (e ? reject(e) : resolve())),
  );
  return { host, server, health };
}

/** One call; resolves with the address of the backend that answered. */
export function askWho(client: grpc.Client, deadlineMs = 3000): Promise<string> {
  return new Promise((resolve, reject) =>
    client.makeUnaryRequest(
      WHO_METHOD,
      (b: Buffer) => b,
      (b: Buffer) => b,
      Buffer.alloc(0),
      { deadline: Date.now() + deadlineMs },
      (err, res) => (err ? reject(err) : resolve(res?.toString() ?? "")),
    ),
  );
}

/** The set of backends that answered `n` sequential calls. */
export async function spread(client: grpc.Client, n: number): Promise<Set<string>> {
  const seen = new Set<string>();
  for (let i = 0; i < n; i++) seen.add(await askWho(client));
  return seen;
}

/** Polls `check` until it holds; bounded in tries and time. Errors count as "not yet". */
export async function eventually(check: () => Promise<boolean>, ms = 20_000): Promise<void> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (let i = 0; i < 500 && Date.now() < deadline; i++) {
    try {
      if (await check()) return;
    } catch (e) {
      last = e;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`condition not met in ${ms} ms${last ? `: ${String(last)}` : ""}`);
}
