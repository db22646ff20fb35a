/**
 * The CA certificates a server's certificate is checked against when the config names no `caFile`
 * (etcd, gRPC health checks): Node's default store, as Node's own https client uses it — its bundled
 * Mozilla roots plus the file in NODE_EXTRA_CA_CERTS. They are passed explicitly because the etcd3
 * client only takes a root buffer, and grpc-js' own default (no roots given) does not include
 * NODE_EXTRA_CA_CERTS (observed with grpc-js 1.14). An empty buffer, as etcd got before, trusts nothing.
 */
import { readFileSync } from "node:fs";
import { rootCertificates } from "node:tls";

export function systemRootCertificates(env: NodeJS.ProcessEnv = process.env): Buffer {
  const pems: string[] = [...rootCertificates];
  const extra = env.NODE_EXTRA_CA_CERTS;
  if (extra) {
    try {
      pems.push(readFileSync(extra, "utf8"));
    } catch {
      // Node itself only warns about an unreadable NODE_EXTRA_CA_CERTS; the bundled roots still apply.
    }
  }
  return Buffer.from(pems.join("\n"));
}
