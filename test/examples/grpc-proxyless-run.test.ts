import { execFile } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { pino } from "pino";
import { describe, expect, it } from "vitest";
import { startServer } from "../../src/app/serve.js";
import { startBackends } from "../../src/demo/backends.js";
import { startEmbeddedDefault } from "../../src/demo/embedded-default.js";

const run = promisify(execFile);
const client = new URL("../../examples/grpc-proxyless/client.mjs", import.meta.url).pathname;

describe("examples/grpc-proxyless/client.mjs", () => {
  it("reaches the backends behind xds:///echo through dns-eds", async () => {
    const { port, backends } = await startBackends([
      { name: "backend-1", hosts: ["127.0.0.1", "::1"] },
      { name: "backend-2", hosts: ["127.0.0.2"] },
    ]);
    const embedded = await startEmbeddedDefault({
      xdsListen: "127.0.0.1:0",
      adminListen: "127.0.0.1:0",
      backendPort: port,
      backends: false,
      onZoneReload: () => {},
    });
    const dir = mkdtempSync(join(tmpdir(), "dnseds-proxyless-"));
    try {
      const plane = await startServer(embedded.config, { logger: pino({ level: "silent" }) });
      try {
        // The example's bootstrap with the port this test's control plane got.
        const bootstrap = JSON.parse(
          readFileSync(new URL("../../examples/grpc-proxyless/bootstrap.json", import.meta.url), "utf8"),
        );
        bootstrap.xds_servers[0].server_uri = `127.0.0.1:${plane.xdsPort}`;
        writeFileSync(join(dir, "bootstrap.json"), JSON.stringify(bootstrap));
        const { stdout } = await run(process.execPath, [client, "xds:///echo", "20"], {
          env: {
            ...process.env,
            GRPC_XDS_BOOTSTRAP: join(dir, "bootstrap.json"),
            GRPC_XDS_BOOTSTRAP_CONFIG: "",
          },
          timeout: 30_000,
        });
        expect(stdout).toContain("20 calls to xds:///echo:");
        expect(stdout).toMatch(new RegExp(`\\d+\\s+backend-1 127\\.0\\.0\\.1:${port}`));
        expect(stdout).toMatch(new RegExp(`\\d+\\s+backend-2 127\\.0\\.0\\.2:${port}`));
        expect(stdout).not.toContain("failed");
      } finally {
        await plane.stop();
      }
    } finally {
      await embedded.stop();
      for (const b of backends) await b.stop();
      rmSync(dir, { recursive: true, force: true });
    }
  }, 60_000);
});
