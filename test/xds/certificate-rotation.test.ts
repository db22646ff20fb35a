/**
 * Rotating the xDS port's TLS files while clients are connected (real certificates from openssl): the
 * server certificate and key, then the client CA bundle, are replaced on disk; new handshakes use the
 * new files, and a stream opened before the rotation stays up and keeps getting updates. A rotation
 * caught half-way (new certificate, old key) is refused and the previous files keep serving.
 */
import { copyFileSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import * as grpc from "@grpc/grpc-js";
import { afterAll, describe, expect, it } from "vitest";
import { CertificateFiles } from "../../src/xds/certificate-files.js";
import { type Pem, TestCerts } from "../support/test-certs.js";
import { until } from "../support/wait-for.js";
import { node, putCla, startServer, T } from "./harness.js";
import { RawXdsClient } from "./raw-client.js";

const certs = new TestCerts("rotation-");

/** Replaces a file in one step, as a secret volume or `mv` does (a reader never sees half of it). */
function replace(path: string, content: Buffer): void {
  writeFileSync(`${path}.new`, content);
  renameSync(`${path}.new`, path);
}
const open: Array<{ close(): void }> = [];
afterAll(() => {
  for (const c of open) c.close();
  certs.remove();
});

describe("TLS file rotation", () => {
  it("applies a new server certificate and client CA to new connections and keeps open streams up", async () => {
    const oldCa = await certs.ca("old-ca");
    const newCa = await certs.ca("new-ca");
    const newClientCa = await certs.ca("new-client-ca");
    const oldServer = await certs.leaf(oldCa, "old-server", { ips: ["127.0.0.1"] });
    const newServer = await certs.leaf(newCa, "new-server", { ips: ["127.0.0.1"] });
    const client = await certs.leaf(oldCa, "client", { uris: ["spiffe://test.example/c"] });
    const newClient = await certs.leaf(newClientCa, "new-client", { uris: ["spiffe://test.example/c2"] });

    const certFile = join(certs.dir, "tls.crt");
    const keyFile = join(certs.dir, "tls.key");
    const caFile = join(certs.dir, "ca.crt");
    copyFileSync(oldServer.certFile, certFile);
    copyFileSync(oldServer.keyFile, keyFile);
    copyFileSync(oldCa.certFile, caFile);
    const outcomes: string[] = [];
    const files = (
      await CertificateFiles.load(
        { certFile, keyFile, caFile },
        { intervalMs: 100, onReload: (o) => outcomes.push(o) },
      )
    ).start();
    const { store, server, port, metrics } = await startServer({ credentials: files.credentials() });
    putCla(store, "svc", "10.0.0.1");

    const dial = (trust: Pem, who: Pem) => {
      const c = new RawXdsClient("delta", port, undefined, {
        credentials: grpc.credentials.createSsl(trust.cert, who.key, who.cert),
        channelOptions: { "grpc.use_local_subchannel_pool": 1 },
      });
      open.push(c);
      return c;
    };
    /** Whether a fresh client with this trust and certificate gets a response. */
    const connects = async (trust: Pem, who: Pem): Promise<boolean> => {
      const c = dial(trust, who);
      c.send({ node: node("probe"), typeUrl: T.endpoint, resourceNamesSubscribe: ["svc"] });
      try {
        await c.next(3_000);
        return true;
      } catch {
        return false;
      } finally {
        c.close();
      }
    };

    const long = dial(oldCa, client);
    long.send({ node: node("long"), typeUrl: T.endpoint, resourceNamesSubscribe: ["svc"] });
    let r = await long.next();
    const streamsOpened = () => metrics.opened;
    const openedBefore = streamsOpened();

    // Half-way: the new certificate is there, its key is not yet. Refused; the old pair keeps serving.
    replace(certFile, readFileSync(newServer.certFile));
    expect(await files.checkNow()).toBe("rejected");
    expect(await connects(oldCa, client)).toBe(true);

    replace(keyFile, readFileSync(newServer.keyFile));
    await until(() => outcomes.includes("applied"), 5_000, "the new pair applied");
    expect(await connects(newCa, client)).toBe(true);
    expect(await connects(oldCa, client)).toBe(false);

    // The stream opened before the rotation is the same stream, and it still gets updates.
    long.send({ typeUrl: T.endpoint, responseNonce: r.nonce });
    putCla(store, "svc", "10.0.0.2");
    r = await long.next();
    expect(r.resources.map((x) => x.name)).toEqual(["svc"]);
    expect(long.ended).toBeUndefined();

    // Client CA rotation: a client certificate from the new client CA is refused, then accepted.
    expect(await connects(newCa, newClient)).toBe(false);
    replace(caFile, Buffer.concat([oldCa.cert, newClientCa.cert]));
    await until(() => outcomes.filter((o) => o === "applied").length === 2, 5_000, "the CA bundle applied");
    expect(await connects(newCa, newClient)).toBe(true);
    expect(await connects(newCa, client)).toBe(true);

    long.send({ typeUrl: T.endpoint, responseNonce: r.nonce });
    putCla(store, "svc", "10.0.0.3");
    expect((await long.next()).resources).toHaveLength(1);
    // Probes opened streams of their own; the long-lived one was never re-opened.
    expect(long.ended).toBeUndefined();
    expect(streamsOpened()).toBeGreaterThan(openedBefore);
    expect(outcomes.filter((o) => o === "rejected")).toHaveLength(1);
    files.stop();
    await server.shutdown(500);
  });
});
