/**
 * The admin server's HEAD answers (what `curl -I` and some probes send): for every path the same status
 * and content type as GET, and no body; and `?format=html` picks the HTML clusters page whatever the
 * Accept header says, as `?format=json` picks JSON.
 */
import { request } from "node:http";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AdminServer, startAdminServer } from "../../src/admin/admin-server.js";
import type { ClusterView } from "../../src/admin/clusters-page.js";
import { createMetrics } from "../../src/admin/metrics.js";
import { firstResolutionReadiness } from "../../src/admin/readiness.js";

const clusters: ClusterView[] = [
  {
    name: "payments",
    version: "v1",
    endpoints: [
      {
        address: "10.0.0.2",
        port: 8080,
        health: "UNHEALTHY",
        priority: 0,
        locality: { region: "", zone: "", subZone: "" },
        source: "dns payments.example.com",
      },
    ],
  },
];

let admin: AdminServer;
let pending: string[] = [];
beforeAll(async () => {
  const metrics = createMetrics({ processMetrics: false });
  admin = await startAdminServer({ listen: "127.0.0.1:0", registry: metrics.registry });
  admin.setProviders({
    readiness: [firstResolutionReadiness(() => pending)],
    clusters: () => clusters,
    configDump: () => ({ "type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment": [] }),
  });
});
afterAll(async () => {
  await admin?.close();
});

/** One raw request, so a body sent after HEAD would be seen (fetch hides it). */
function raw(method: string, path: string, headers: Record<string, string> = {}) {
  const url = new URL(path, admin.url);
  return new Promise<{ status: number; type: string; body: string }>((resolve, reject) => {
    const req = request(url, { method, headers }, (res) => {
      let body = "";
      res.on("data", (c: Buffer) => {
        body += c.toString();
      });
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, type: String(res.headers["content-type"] ?? ""), body }),
      );
    });
    req.on("error", reject);
    req.end();
  });
}

describe("admin HEAD and ?format=html", () => {
  it("HEAD gives GET's status and content type on every path, with no body", async () => {
    const paths = [
      "/",
      "/healthz",
      "/readyz",
      "/metrics",
      "/config_dump",
      "/clusters",
      "/clusters?format=json",
      "/clusters?format=html",
      "/nope",
    ];
    for (const ready of [true, false]) {
      pending = ready ? [] : ["payments"];
      for (const path of paths) {
        const get = await raw("GET", path);
        const head = await raw("HEAD", path);
        expect(get.body.length, `GET ${path}`).toBeGreaterThan(0);
        expect({ status: head.status, type: head.type, body: head.body }, `HEAD ${path}`).toEqual({
          status: get.status,
          type: get.type,
          body: "",
        });
      }
    }
    pending = ["payments"];
    expect((await raw("HEAD", "/readyz")).status).toBe(503);
    pending = [];
    expect((await raw("HEAD", "/readyz")).status).toBe(200);
  });

  it("?format=html gives the HTML page even when the client asks for plain text", async () => {
    const html = await raw("GET", "/clusters?format=html", { accept: "text/plain" });
    expect(html.status).toBe(200);
    expect(html.type).toContain("text/html");
    expect(html.body).toContain(`<h2 id="cluster-payments">payments <small>version v1</small></h2>`);
    expect(html.body).toContain('<tr class="UNHEALTHY"><td>10.0.0.2:8080</td><td>UNHEALTHY</td>');
    const json = await raw("GET", "/clusters?format=json", { accept: "text/html" });
    expect(json.type).toContain("application/json");
    expect(JSON.parse(json.body)).toEqual({ clusters });
  });

  it("anything but GET and HEAD is refused with 405 and an Allow header", async () => {
    for (const method of ["POST", "PUT", "DELETE"]) {
      const r = await raw(method, "/clusters");
      expect(r.status, method).toBe(405);
    }
  });
});
