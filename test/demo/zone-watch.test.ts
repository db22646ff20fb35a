import { Resolver } from "node:dns/promises";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { startZoneServer } from "../../src/demo/zone-server.js";

const dir = mkdtempSync(join(tmpdir(), "dnseds-zone-watch-"));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const zone = (addr: string) => `$ORIGIN w.test.\n$TTL 5\n@ SOA ns hm 1 60 30 600 5\napi A ${addr}\n`;

/** Resolves with the next onReload result, or rejects after a bounded wait. */
function nextReload(events: Array<(e?: Error) => void>): Promise<Error | undefined> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error("no reload within 5 s")), 5000);
    events.push((e) => {
      clearTimeout(t);
      resolve(e);
    });
  });
}

describe("zone server watching its file", () => {
  it("serves edits to the file and keeps the old zone on a bad edit", async () => {
    const file = join(dir, "w.zone");
    writeFileSync(file, zone("10.0.0.1"));
    const waiters: Array<(e?: Error) => void> = [];
    const s = await startZoneServer({
      zoneFile: file,
      watch: true,
      onReload: (e) => waiters.shift()?.(e),
    });
    try {
      const r = new Resolver({ timeout: 2000, tries: 1 });
      r.setServers([s.server]);
      expect(await r.resolve4("api.w.test")).toEqual(["10.0.0.1"]);

      let reloaded = nextReload(waiters);
      writeFileSync(file, zone("10.0.0.2"));
      expect(await reloaded).toBeUndefined();
      expect(await r.resolve4("api.w.test")).toEqual(["10.0.0.2"]);

      reloaded = nextReload(waiters);
      writeFileSync(file, zone("10.0.0.300"));
      const err = await reloaded;
      expect(err).toMatchObject({ code: "ERR_ZONE_FILE", line: 4 });
      expect(await r.resolve4("api.w.test")).toEqual(["10.0.0.2"]);

      writeFileSync(file, zone("10.0.0.3"));
      await s.reloadFile();
      expect(await r.resolve4("api.w.test")).toEqual(["10.0.0.3"]);
    } finally {
      await s.close();
    }
  });
});
