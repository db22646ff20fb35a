/**
 * Who a client is, from the certificate it presented (mTLS): its SPIFFE ID (URI SAN) and DNS names.
 * grpc-js (≥ 1.12) hands a call's verified peer certificate out through `call.getAuthContext()`; it is
 * there only when the TLS handshake verified the certificate against the configured CA.
 */
import type { PeerCertificate } from "node:tls";

export interface PeerIdentity {
  /** URI SANs, e.g. `spiffe://prod.example/ns/web/sa/envoy`, as written. */
  uris: string[];
  /** DNS SANs, lower-cased. */
  dnsNames: string[];
}

/** The SANs of a certificate, or undefined when there is no certificate. */
export function identityOf(cert: PeerCertificate | undefined): PeerIdentity | undefined {
  if (cert === undefined) return undefined;
  const out: PeerIdentity = { uris: [], dnsNames: [] };
  for (const [type, value] of parseSubjectAltName(cert.subjectaltname ?? "")) {
    if (type === "URI") out.uris.push(value);
    else if (type === "DNS") out.dnsNames.push(value.toLowerCase());
  }
  return out;
}

/**
 * Node's `subjectaltname` text: `DNS:a.example, URI:spiffe://td/x, IP Address:10.0.0.1`, where a value
 * holding a comma, quote or other special character is written as a JSON string (`URI:"a, b"`), so
 * that no SAN can pose as two.
 */
export function parseSubjectAltName(text: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(":", i);
    if (colon < 0) break;
    const type = text.slice(i, colon);
    let j = colon + 1;
    let value: string;
    if (text[j] === '"') {
      // A JSON string: find its closing quote, skipping escaped characters.
      let k = j + 1;
      while (k < text.length && text[k] !== '"') k += text[k] === "\\" ? 2 : 1;
      try {
        value = JSON.parse(text.slice(j, k + 1)) as string;
      } catch {
        return out; // not Node's format: trust nothing after it
      }
      j = k + 1;
    } else {
      const end = text.indexOf(", ", j);
      value = text.slice(j, end < 0 ? text.length : end);
      j = end < 0 ? text.length : end;
    }
    out.push([type, value]);
    i = text.startsWith(", ", j) ? j + 2 : text.length;
  }
  return out;
}
