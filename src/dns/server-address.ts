/**
 * Configured DNS server addresses: "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353", read by the one
 * `host:port` parser (host-port.ts) and put in the canonical form replies are compared against. Only
 * IP literals: the resolver cannot resolve its own servers. A bad address is a config error.
 */
import { DnsError } from "./dns-error.js";
import { parseHostPort } from "./host-port.js";

export interface ServerAddress {
  /** Canonical IP text (IPv6 compressed, lower case), compared with the reply's source address. */
  host: string;
  port: number;
  family: 4 | 6;
  /** "host:port" or "[v6]:port", as reported in Answer.server and metrics. */
  key: string;
}

export const DEFAULT_DNS_PORT = 53;

function canonicalV6(host: string): string {
  // WHATWG URL parsing prints IPv6 in RFC 5952 form, which is what dgram reports as rinfo.address.
  return new URL(`http://[${host}]/`).hostname.slice(1, -1);
}

export function parseServerAddress(spec: string): ServerAddress {
  const bad = (why: string) =>
    new DnsError("ERR_DNS_BAD_CONFIG", `bad DNS server ${JSON.stringify(spec)}: ${why}`);
  if (typeof spec !== "string" || spec.trim() === "") throw bad("empty");
  const r = parseHostPort(spec.trim(), {
    defaultPort: DEFAULT_DNS_PORT,
    requireIp: true,
    allowBareIpv6: true,
  });
  if (!r.ok) throw bad(r.problem);
  const { host, port, family } = r.value;
  const canon = family === 6 ? canonicalV6(host) : host;
  return {
    host: canon,
    port,
    family: family === 6 ? 6 : 4,
    key: family === 6 ? `[${canon}]:${port}` : `${canon}:${port}`,
  };
}
