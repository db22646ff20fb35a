/**
 * TLS for health checks (HTTPS, and gRPC when the check has `tls`): the backend's certificate is
 * verified by default — against `caFile`, else Node's default CA store — for the name in `serverName`,
 * else the DNS name the endpoint came from, else its IP address; a client certificate can be
 * presented (`certFile`/`keyFile`) to backends that require one. `insecureSkipVerify` turns the check
 * off, and says so in its name. Files are read when first used and again at most once a minute, so a
 * rotated client certificate is picked up without a restart.
 */
import { readFileSync } from "node:fs";
import { checkServerIdentity, type PeerCertificate } from "node:tls";

export interface ProbeTlsSpec {
  /** PEM CA bundle the backend's certificate must chain to (default: Node's CA store). */
  caFile?: string;
  /** Client certificate and key, for backends that ask for one. */
  certFile?: string;
  keyFile?: string;
  /** Name the certificate must carry, also sent as SNI (default: the endpoint's DNS name, else its IP). */
  serverName?: string;
  /** Accept any certificate (no verification at all). Default false. */
  insecureSkipVerify?: boolean;
}

export interface ProbeTlsMaterial {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  verify: boolean;
  /** Identity of the material, for caching channels per (endpoint, TLS settings). */
  id: string;
}

const RELOAD_MS = 60_000;
const cache = new Map<string, { at: number; material: ProbeTlsMaterial }>();

/** The certificates a check uses, read from its files (cached, re-read at most once a minute). */
export function probeTlsMaterial(spec: ProbeTlsSpec | undefined, now = Date.now()): ProbeTlsMaterial {
  const key = JSON.stringify(spec ?? {});
  const hit = cache.get(key);
  if (hit && now - hit.at < RELOAD_MS) return hit.material;
  const read = (f: string | undefined) => (f ? readFileSync(f) : undefined);
  const material: ProbeTlsMaterial = {
    ...(spec?.caFile ? { ca: read(spec.caFile) } : {}),
    ...(spec?.certFile ? { cert: read(spec.certFile) } : {}),
    ...(spec?.keyFile ? { key: read(spec.keyFile) } : {}),
    verify: spec?.insecureSkipVerify !== true,
    id: `${key}@${now}`,
  };
  // Keep the id stable while the files did not change, so channels are not rebuilt every minute.
  if (hit && sameBytes(hit.material, material)) material.id = hit.material.id;
  cache.set(key, { at: now, material });
  return material;
}

function sameBytes(a: ProbeTlsMaterial, b: ProbeTlsMaterial): boolean {
  const eq = (x?: Buffer, y?: Buffer) => (x === undefined ? y === undefined : y !== undefined && x.equals(y));
  return eq(a.ca, b.ca) && eq(a.cert, b.cert) && eq(a.key, b.key) && a.verify === b.verify;
}

/** The name the backend's certificate must carry. */
export function expectedServerName(
  target: { address: string; host?: string },
  spec: ProbeTlsSpec | undefined,
): string {
  if (spec?.serverName) return spec.serverName;
  const host = target.host?.replace(/\.$/, "");
  return host ? host : target.address;
}

/** Node's identity check against `name` (the connection itself goes to an IP literal). */
export function identityCheck(name: string): (host: string, cert: PeerCertificate) => Error | undefined {
  return (_host, cert) => checkServerIdentity(name, cert);
}

/** True when an error text is a certificate or handshake failure rather than a dead backend. */
export function isTlsFailure(text: string): boolean {
  return /certificate|self[- ]signed|unable to verify|UNABLE_TO|ERR_TLS|SSL|handshake|altnames|hostname\/IP does not match/i.test(
    text,
  );
}
