/**
 * Per-node authorization over mTLS with real certificates (made with openssl at test time) and real
 * grpc-js clients: identity from the client certificate's SPIFFE or DNS SAN; node ids and zones bound to
 * it; wildcards filtered and forbidden names treated as absent; refusals with PERMISSION_DENIED and a
 * metric; clients without a certificate from the CA never reach a stream; rule changes while running.
 */
import * as grpc from "@grpc/grpc-js";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { ClusterLoadAssignment } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import type { AuthorizationRule } from "../../src/xds/authorization.js";
import { CertificateFiles } from "../../src/xds/certificate-files.js";
import { clusterLoadAssignment, edsCluster } from "../../src/xds/resource-builders.js";
import type { ResourceStore } from "../../src/xds/resource-store.js";
import type { XdsServer } from "../../src/xds/server.js";
import { type Pem, TestCerts } from "../support/test-certs.js";
import { node, type RecordingMetrics, startServer, T } from "./harness.js";
import { RawXdsClient, sotwNames, sotwResources } from "./raw-client.js";

const RULES: AuthorizationRule[] = [
  {
    identities: ["spiffe://test.example/ns/web/*"],
    nodeIds: ["web-*"],
    clusters: ["web", "shared-*"],
    zones: ["z1"],
  },
  { identities: ["spiffe://test.example/ns/pay/sa/envoy"], nodeIds: ["pay-1"], clusters: ["pay"] },
  { identities: ["*.ops.test.example"], nodeIds: ["*"], clusters: ["*"], operator: true },
];

const certs = new TestCerts("authz-");
let ca: Pem;
const leaf: Record<string, Pem> = {};
let files: CertificateFiles;
let store: ResourceStore;
let server: XdsServer;
let metrics: RecordingMetrics;
let port: number;
const open: Array<{ close(): void }> = [];

function cla(name: string, host: string) {
  return clusterLoadAssignment(name, [{ zone: "z1", endpoints: [{ address: host, port: 8080 }] }]);
}

function publishCluster(name: string, host = "10.0.0.1"): void {
  store.publish({
    upsert: [
      { typeUrl: T.endpoint, name, resource: cla(name, host) },
      { typeUrl: T.cluster, name, resource: edsCluster(name) },
    ],
  });
}

function client<K extends "sotw" | "delta">(kind: K, who: Pem | undefined, trust = ca): RawXdsClient<K> {
  const credentials = who
    ? grpc.credentials.createSsl(trust.cert, who.key, who.cert)
    : grpc.credentials.createSsl(trust.cert);
  const c = new RawXdsClient(kind, port, undefined, {
    credentials,
    channelOptions: { "grpc.use_local_subchannel_pool": 1 },
  });
  open.push(c);
  return c;
}

function firstHost(r: { resources: unknown[] } & Parameters<typeof sotwResources>[0]): string | undefined {
  const m = sotwResources(r)[0]?.message as ClusterLoadAssignment | undefined;
  const ep = m?.endpoints[0]?.lbEndpoints[0]?.hostIdentifier;
  if (ep?.case !== "endpoint") return undefined;
  const a = ep.value.address?.address;
  return a?.case === "socketAddress" ? a.value.address : undefined;
}

beforeAll(async () => {
  ca = await certs.ca("ca");
  const other = await certs.ca("other-ca");
  leaf.server = await certs.leaf(ca, "server", { dns: ["localhost"], ips: ["127.0.0.1"] });
  leaf.web = await certs.leaf(ca, "web", { uris: ["spiffe://test.example/ns/web/sa/envoy"] });
  leaf.pay = await certs.leaf(ca, "pay", { uris: ["spiffe://test.example/ns/pay/sa/envoy"] });
  leaf.stranger = await certs.leaf(ca, "stranger", { uris: ["spiffe://test.example/ns/other/sa/x"] });
  leaf.ops = await certs.leaf(ca, "ops", { dns: ["console.ops.test.example"] });
  leaf.forged = await certs.leaf(other, "forged", { uris: ["spiffe://test.example/ns/web/sa/envoy"] });
  files = await CertificateFiles.load({
    certFile: leaf.server.certFile,
    keyFile: leaf.server.keyFile,
    caFile: ca.certFile,
  });
  ({ store, server, metrics, port } = await startServer({
    credentials: files.credentials(),
    authorization: RULES,
  }));
  for (const name of ["web", "pay", "shared-a", "secret"]) publishCluster(name);
  // A zone-aware assignment: z1 clients get their own variant.
  store.publish({
    upsert: [
      {
        typeUrl: T.endpoint,
        name: "web",
        resource: cla("web", "10.0.0.1"),
        variants: new Map([["z1", cla("web", "10.1.1.1")]]),
      },
    ],
  });
}, 60_000);

afterAll(async () => {
  for (const c of open) c.close();
  await server?.shutdown(500);
  certs.remove();
});

describe("authorization by client certificate", () => {
  it("a CDS wildcard lists only the clusters of the client's rule", async () => {
    const c = client("sotw", leaf.web);
    c.send({ node: node("web-1", "z1"), typeUrl: T.cluster, resourceNames: [] });
    expect(sotwNames(await c.next())).toEqual(["shared-a", "web"]);
    const ops = client("sotw", leaf.ops);
    ops.send({ node: node("console"), typeUrl: T.cluster, resourceNames: [] });
    expect(sotwNames(await ops.next())).toEqual(["pay", "secret", "shared-a", "web"]);
    expect(server.nodes().find((n) => n.node?.id === "console")?.identity).toEqual({
      principal: "console.ops.test.example",
      rule: 2,
      operator: true,
    });
  });

  it("a named request for another client's cluster is treated as absent (SotW: never sent; Delta: reported removed)", async () => {
    const s = client("sotw", leaf.web);
    s.send({ node: node("web-2", "z1"), typeUrl: T.endpoint, resourceNames: ["web", "pay"] });
    const first = await s.next();
    expect(sotwNames(first)).toEqual(["web"]);
    expect(firstHost(first)).toBe("10.1.1.1"); // its zone's variant
    // pay changes first, then web: a client that could see pay would get it before or with web.
    publishCluster("pay", "10.0.0.2");
    store.publish({ upsert: [{ typeUrl: T.endpoint, name: "web", resource: cla("web", "10.0.0.3") }] });
    s.send({ typeUrl: T.endpoint, resourceNames: ["web", "pay"], responseNonce: first.nonce });
    expect(sotwNames(await s.next())).toEqual(["web"]);

    const d = client("delta", leaf.web);
    d.send({ node: node("web-3", "z1"), typeUrl: T.endpoint, resourceNamesSubscribe: ["web", "pay"] });
    const seen = { resources: [] as string[], removed: [] as string[] };
    for (let i = 0; i < 2 && seen.removed.length === 0; i++) {
      const r = await d.next();
      seen.resources.push(...r.resources.map((x) => x.name));
      seen.removed.push(...r.removedResources);
    }
    expect(seen).toEqual({ resources: ["web"], removed: ["pay"] });
  });

  it("claiming another identity's node id, or a zone outside the rule, gets PERMISSION_DENIED", async () => {
    const before = { ...metrics.denials };
    const a = client("sotw", leaf.web);
    a.send({ node: node("pay-1"), typeUrl: T.cluster, resourceNames: [] });
    const sa = await a.status();
    expect(sa.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(sa.details).toContain('may not claim node id "pay-1"');
    const b = client("delta", leaf.web);
    b.send({ node: node("web-9", "z2"), typeUrl: T.endpoint, resourceNamesSubscribe: ["web"] });
    const sb = await b.status();
    expect(sb.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(sb.details).toContain('may not claim zone "z2"');
    const c = client("sotw", leaf.web);
    c.send({ typeUrl: T.cluster, resourceNames: [] });
    expect((await c.status()).code).toBe(grpc.status.PERMISSION_DENIED);
    expect(metrics.denials["node-id"]).toBe((before["node-id"] ?? 0) + 2);
    expect(metrics.denials.zone).toBe((before.zone ?? 0) + 1);
  });

  it("a certificate without a rule is refused at once; one without a certificate, or from another CA, never gets a stream", async () => {
    const opened = metrics.opened;
    const s = client("sotw", leaf.stranger);
    s.send({ node: node("web-1"), typeUrl: T.cluster, resourceNames: [] });
    const st = await s.status();
    expect(st.code).toBe(grpc.status.PERMISSION_DENIED);
    expect(st.details).toContain("no rule for spiffe://test.example/ns/other/sa/x");
    expect(metrics.denials["unknown-identity"]).toBeGreaterThanOrEqual(1);
    for (const who of [undefined, leaf.forged]) {
      const c = client("sotw", who);
      c.send({ node: node("web-1"), typeUrl: T.cluster, resourceNames: [] });
      expect((await c.status()).code).toBe(grpc.status.UNAVAILABLE);
    }
    expect(metrics.opened).toBe(opened);
  });

  it("new rules apply to new streams; open streams whose rights changed are ended, the others carry on", async () => {
    const web = client("delta", leaf.web);
    const pay = client("delta", leaf.pay);
    web.send({ node: node("web-4", "z1"), typeUrl: T.endpoint, resourceNamesSubscribe: ["shared-a"] });
    pay.send({ node: node("pay-1"), typeUrl: T.endpoint, resourceNamesSubscribe: ["pay"] });
    await web.next();
    const p = await pay.next();
    server.setAuthorization([{ ...(RULES[0] as AuthorizationRule), clusters: ["web"] }, ...RULES.slice(1)]);
    const ended = await web.status();
    expect(ended.code).toBe(grpc.status.UNAVAILABLE);
    expect(ended.details).toContain("xds.authorization changed");
    pay.send({ typeUrl: T.endpoint, responseNonce: p.nonce });
    publishCluster("pay", "10.0.0.4");
    expect((await pay.next()).resources.map((r) => r.name)).toEqual(["pay"]);
    // Reconnected under the new rule, the web client no longer sees shared-a.
    const again = client("delta", leaf.web);
    again.send({ node: node("web-4", "z1"), typeUrl: T.endpoint, resourceNamesSubscribe: ["shared-a"] });
    const r = await again.next();
    expect(r.resources).toHaveLength(0);
    expect(r.removedResources).toEqual(["shared-a"]);
    server.setAuthorization(RULES);
  });
});
