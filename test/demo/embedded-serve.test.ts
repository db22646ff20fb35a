import { pino } from "pino";
import { describe, expect, it } from "vitest";
import type { ClusterView } from "../../src/admin/clusters-page.js";
import { startServer } from "../../src/app/serve.js";
import { startEmbeddedDefault } from "../../src/demo/embedded-default.js";

// What `npm start` does: the embedded zone server plus the control plane on the built-in config.
describe("embedded default with the control plane", () => {
  it("serves the demo zone's endpoints with no outside DNS and no etcd", async () => {
    const embedded = await startEmbeddedDefault({
      xdsListen: "127.0.0.1:0",
      adminListen: "127.0.0.1:0",
      onZoneReload: () => {},
    });
    const plane = await startServer(embedded.config, { logger: pino({ level: "silent" }) }).catch(
      async (err) => {
        await embedded.stop();
        throw err;
      },
    );
    try {
      expect(plane.xdsPort).toBeGreaterThan(0);
      let views: readonly ClusterView[] = [];
      const ready = (v: readonly ClusterView[]) =>
        v.length === 2 && v.every((c) => c.endpoints.length > 0 && c.error === undefined);
      for (let i = 0; i < 100 && !ready(views); i++) {
        views = (await plane.adminProviders.clusters?.()) ?? [];
        if (!ready(views)) await new Promise((r) => setTimeout(r, 100));
      }
      const byName = Object.fromEntries(views.map((c) => [c.name, c]));
      const addrs = (name: string) =>
        (byName[name]?.endpoints ?? []).map((e) => `${e.address}|${e.port}|p${e.priority}`).sort();
      // echo: A records at priority 0, the AAAA record as the IPv6 fallback (V4_PREFERRED).
      expect(addrs("echo")).toEqual(["127.0.0.1|50051|p0", "127.0.0.2|50051|p0", "::1|50051|p1"]);
      // echo-srv: the three SRV targets' addresses, both families (ALL).
      expect(addrs("echo-srv")).toEqual([
        "127.0.0.1|50051|p0",
        "127.0.0.2|50051|p0",
        "127.0.0.3|50051|p0",
        "::1|50051|p0",
      ]);
      expect(embedded.zone.stats.udp + embedded.zone.stats.tcp).toBeGreaterThan(0);
    } finally {
      await plane.stop();
      await embedded.stop();
    }
  });
});
