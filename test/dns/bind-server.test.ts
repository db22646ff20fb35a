// Checks the shared BIND test helper itself: starts, answers, reloads a rewritten zone, stops.
import dgram from "node:dgram";
import dnsPacket from "dns-packet";
import { afterAll, describe, expect, it } from "vitest";
import { type BindServer, startBindServer } from "../support/bind-server.js";

async function queryA(port: number, name: string): Promise<string[]> {
  const sock = dgram.createSocket("udp4");
  try {
    return await new Promise<string[]>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("timeout")), 2000);
      sock.on("message", (m) => {
        clearTimeout(t);
        const p = dnsPacket.decode(m);
        resolve((p.answers ?? []).flatMap((a) => (a.type === "A" ? [a.data] : [])));
      });
      sock.send(
        dnsPacket.encode({ type: "query", id: 7, questions: [{ type: "A", name }] }),
        port,
        "127.0.0.1",
      );
    });
  } finally {
    sock.close();
  }
}

describe("bind-server helper", () => {
  let bind: BindServer | undefined;
  afterAll(async () => {
    await bind?.stop();
  });

  it("serves a zone and picks up a rewrite", async () => {
    bind = await startBindServer({ zones: [{ origin: "helper.test", records: "api 30 IN A 127.0.0.5" }] });
    expect(await queryA(bind.port, "api.helper.test")).toEqual(["127.0.0.5"]);
    await bind.setZone({ origin: "helper.test", records: "api 30 IN A 127.0.0.6\napi 30 IN A 127.0.0.7" });
    expect((await queryA(bind.port, "api.helper.test")).sort()).toEqual(["127.0.0.6", "127.0.0.7"]);
    await bind.setZone({ origin: "other.test", records: "x 30 IN A 127.0.0.9" });
    expect(await queryA(bind.port, "x.other.test")).toEqual(["127.0.0.9"]);
  });
});
