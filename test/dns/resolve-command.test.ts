// `dns-eds resolve` against a real BIND: the text and JSON outputs and the exit codes for an answer,
// NXDOMAIN, a bad name and an unreachable server.
import { Command } from "commander";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { registerResolveCommand } from "../../src/cli/resolve-command.js";
import { type BindServer, startBindServer } from "../support/bind-server.js";

async function run(args: string[]) {
  let out = "";
  let err = "";
  let code = -1;
  const program = new Command("dns-eds").exitOverride();
  registerResolveCommand(program, {
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
  await program.parseAsync(["node", "dns-eds", "resolve", ...args]);
  return { out, err, code };
}

describe("dns-eds resolve", () => {
  let bind: BindServer;
  beforeAll(async () => {
    bind = await startBindServer({
      zones: [
        {
          origin: "cli.test",
          records: 'api 30 IN A 127.0.0.5\n_h._tcp 40 IN SRV 1 2 8080 api\ntxt 50 IN TXT "a b"',
          negativeTtl: 20,
        },
      ],
    });
  });
  afterAll(async () => {
    await bind?.stop();
  });

  it("prints records, TTLs and the server", async () => {
    const r = await run(["api.cli.test", "--server", bind.server]);
    expect(r.code).toBe(0);
    expect(r.out).toContain(`api.cli.test. A from ${bind.server}`);
    expect(r.out).toContain("api.cli.test.\t30\tA\t127.0.0.5");
  });

  it("prints SRV with target addresses and JSON", async () => {
    const r = await run(["_h._tcp.cli.test", "-t", "SRV", "-s", bind.server]);
    expect(r.out).toContain("SRV\t1 2 8080 api.cli.test.");
    expect(r.out).toContain(";; target api.cli.test.");
    const j = await run(["_h._tcp.cli.test", "-t", "SRV", "-s", bind.server, "--json"]);
    const parsed = JSON.parse(j.out);
    expect(parsed.targets["api.cli.test."].a[0].address).toBe("127.0.0.5");
  });

  it("NXDOMAIN is an answer with a negative TTL", async () => {
    const r = await run(["nope.cli.test", "-s", bind.server]);
    expect(r.code).toBe(0);
    expect(r.out).toContain("NXDOMAIN, 0 record(s), negative TTL 20 s");
  });

  it("exit 2 for a bad name, 1 when the server does not answer", async () => {
    expect((await run(["bad..name", "-s", bind.server])).code).toBe(2);
    const r = await run(["api.cli.test", "-s", "127.0.0.1:9", "--timeout", "200", "--attempts", "1"]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/ERR_DNS_/);
  });
});
