/**
 * Who may read the admin port. By default it is bound to loopback and open to whoever can reach it
 * there. Elsewhere it needs a bearer token (`Authorization: Bearer …`, compared in constant time) or
 * mTLS (clients must present a certificate from `admin.tls.caFile`; the TLS handshake refuses the
 * others), unless the operator says otherwise (`admin.allowUnauthenticated`). `/healthz` and the
 * status of `/readyz` stay open so orchestrators can probe without the token; the readiness details
 * (cluster names, etcd state) need it.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { isIP } from "node:net";

/** Paths answered without the token (with no details beyond the status code). */
export const OPEN_PATHS: ReadonlySet<string> = new Set(["/healthz", "/readyz"]);

/** True when `header` is `Bearer <token>` for `token`. */
export function bearerMatches(header: string | undefined, token: string): boolean {
  if (typeof header !== "string") return false;
  const m = /^Bearer\s+(\S+)\s*$/i.exec(header);
  if (!m?.[1]) return false;
  // Equal-length digests: the comparison time says nothing about the token's length or prefix.
  const a = createHash("sha256").update(m[1]).digest();
  const b = createHash("sha256").update(token).digest();
  return timingSafeEqual(a, b);
}

/** True when a listen host only accepts connections from this machine. */
export function isLoopbackHost(host: string): boolean {
  const h = host.replace(/^\[|\]$/g, "").toLowerCase();
  if (h === "localhost") return true;
  if (isIP(h) === 4) return h.startsWith("127.");
  if (isIP(h) === 6) return h === "::1" || h === "0:0:0:0:0:0:0:1" || /^::ffff:127\./.test(h);
  return false;
}
