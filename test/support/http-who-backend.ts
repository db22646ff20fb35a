/**
 * Test helper: plain HTTP/1.1 backends that answer every request with their own address, so a test sees
 * where a proxy (Envoy) actually sent it. `/health` answers 200 or 503 as the test sets it, so a
 * health check can fail while the backend still answers (and would be seen if traffic still reached it).
 *
 *   const b = await startHttpWho("127.0.0.31", port);  // GET / → "127.0.0.31"
 *   b.setHealthy(false);                               // GET /health → 503
 *   b.hits                                             // requests other than /health served so far
 *   await b.close();
 *
 * Ports: `freePortOnAll(hosts)` from grpc-backends.ts gives one port free on every host, so one DNS
 * name + port reaches them all.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

export interface HttpWho {
  readonly host: string;
  readonly port: number;
  /** Requests served, excluding `/health`. */
  readonly hits: number;
  setHealthy(healthy: boolean): void;
  close(): Promise<void>;
}

export async function startHttpWho(host: string, port = 0): Promise<HttpWho> {
  let healthy = true;
  let hits = 0;
  const server = http.createServer((req, res) => {
    if (req.url === "/health") {
      res.writeHead(healthy ? 200 : 503, { "content-type": "text/plain" }).end(healthy ? "ok" : "failing");
      return;
    }
    hits++;
    req.resume();
    res.writeHead(200, { "content-type": "text/plain" }).end(host);
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(port, host, () => resolve());
  });
  const bound = (server.address() as AddressInfo).port;
  return {
    host,
    port: bound,
    get hits() {
      return hits;
    },
    setHealthy(h: boolean) {
      healthy = h;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** Starts one backend per host, all on the same port (free on every host). */
export async function startHttpWhos(hosts: readonly string[], port: number): Promise<Map<string, HttpWho>> {
  const out = new Map<string, HttpWho>();
  for (const h of hosts) out.set(h, await startHttpWho(h, port));
  return out;
}
