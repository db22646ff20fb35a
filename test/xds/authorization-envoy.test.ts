/**
 * Authorization through a real Envoy (1.40, from test/support/envoy.ts) over mTLS, SotW and Delta ADS:
 * with its client certificate (openssl, made here) Envoy receives only the clusters of its rule over
 * CDS and routes to them; an Envoy with the same certificate claiming another identity's node id gets
 * PERMISSION_DENIED and no cluster at all; rotating dns-eds' certificate files leaves Envoy's stream up.
 */
import { copyFileSync, renameSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type DnsEdsInstance, startDnsEds } from "../support/dns-eds-instance.js";
import { ADS_MODES, dumpEnvoyLogsOnFailure, startEnvoy } from "../support/envoy.js";
import { type HttpWho, startHttpWho } from "../support/http-who-backend.js";
import { type Pem, TestCerts } from "../support/test-certs.js";
import { until, waitFor } from "../support/wait-for.js";

const certs = new TestCerts("authz-envoy-");
let ca: Pem;
let envoyCert: Pem;
let cp: DnsEdsInstance;
let web: HttpWho;
let pay: HttpWho;
const serverCert = () => join(certs.dir, "tls.crt");
const serverKey = () => join(certs.dir, "tls.key");

dumpEnvoyLogsOnFailure();

beforeAll(async () => {
  ca = await certs.ca("ca");
  const server = await certs.leaf(ca, "server", { ips: ["127.0.0.1"] });
  envoyCert = await certs.leaf(ca, "envoy", { uris: ["spiffe://test.example/ns/web/sa/envoy"] });
  copyFileSync(server.certFile, serverCert());
  copyFileSync(server.keyFile, serverKey());
  web = await startHttpWho("127.0.0.41");
  pay = await startHttpWho("127.0.0.42");
  cp = await startDnsEds({
    xds: {
      tls: { certFile: serverCert(), keyFile: serverKey(), caFile: ca.certFile, reloadIntervalMs: 200 },
      authorization: {
        rules: [
          { identities: ["spiffe://test.example/ns/web/*"], nodeIds: ["envoy-web-*"], clusters: ["web"] },
        ],
      },
    },
    dns: { servers: ["127.0.0.1:1"] },
    clusters: [
      { name: "web", static: [{ address: web.host, port: web.port }] },
      { name: "pay", static: [{ address: pay.host, port: pay.port }] },
    ],
  });
}, 60_000);

afterAll(async () => {
  await cp?.stop();
  await web?.close();
  await pay?.close();
  certs.remove();
});

const tls = () => ({ certFile: envoyCert.certFile, keyFile: envoyCert.keyFile, caFile: ca.certFile });

describe.each(ADS_MODES)("Envoy over mTLS (ADS %s)", (mode) => {
  it("receives only its rule's clusters and routes to them; rotating dns-eds' certificate keeps its stream", async () => {
    const envoy = await startEnvoy({
      xdsPorts: [cp.xdsPort],
      ads: mode,
      nodeId: `envoy-web-${mode}`,
      xdsTls: tls(),
    });
    try {
      expect(
        await waitFor("Envoy to route to web", 20_000, () => envoy.get("web").catch(() => undefined)),
      ).toBe(web.host);
      expect(await envoy.clusterNames()).not.toContain("pay");
      expect((await envoy.request("pay")).status).not.toBe(200);

      // A new certificate for dns-eds (same CA), swapped in as a secret volume would.
      const applied = await cp.metric("dnseds_xds_tls_reloads_total", 'outcome="applied"');
      const next = await certs.leaf(ca, `server-${mode}`, { ips: ["127.0.0.1"] });
      copyFileSync(next.certFile, `${serverCert()}.new`);
      copyFileSync(next.keyFile, `${serverKey()}.new`);
      renameSync(`${serverKey()}.new`, serverKey());
      renameSync(`${serverCert()}.new`, serverCert());
      await until(
        async () => (await cp.metric("dnseds_xds_tls_reloads_total", 'outcome="applied"')) > applied,
        10_000,
        "dns-eds to apply the new certificate",
      );
      // Still the same ADS stream: Envoy connected once, and a change to web still arrives.
      expect(await envoy.stat("control_plane.connected_state")).toBe(1);
      const before = await envoy.stat("cluster_manager.cds.update_success");
      await cp.reload({
        xds: {
          tls: { certFile: serverCert(), keyFile: serverKey(), caFile: ca.certFile, reloadIntervalMs: 200 },
          authorization: {
            rules: [
              { identities: ["spiffe://test.example/ns/web/*"], nodeIds: ["envoy-web-*"], clusters: ["web"] },
            ],
          },
        },
        dns: { servers: ["127.0.0.1:1"] },
        clusters: [
          {
            name: "web",
            static: [{ address: web.host, port: web.port }],
            connectTimeoutMs: mode === "sotw" ? 1234 : 2345,
          },
          { name: "pay", static: [{ address: pay.host, port: pay.port }] },
        ],
      });
      await until(
        async () => (await envoy.stat("cluster_manager.cds.update_success")) > before,
        10_000,
        "Envoy to take the changed web cluster",
      );
      expect(await envoy.stat("control_plane.connected_state")).toBe(1);
    } finally {
      await envoy.stop();
    }
  });

  it("with another identity's node id, gets PERMISSION_DENIED and no cluster", async () => {
    const denied = await cp.metric("dnseds_xds_authorization_denied_total", 'reason="node-id"');
    const envoy = await startEnvoy({
      xdsPorts: [cp.xdsPort],
      ads: mode,
      nodeId: "envoy-pay-1",
      xdsTls: tls(),
    });
    try {
      await until(
        async () => (await cp.metric("dnseds_xds_authorization_denied_total", 'reason="node-id"')) > denied,
        20_000,
        "dns-eds to refuse the node id",
      );
      expect(await envoy.clusterNames()).not.toContain("web");
      expect(await envoy.clusterNames()).not.toContain("pay");
    } finally {
      await envoy.stop();
    }
  });
});
