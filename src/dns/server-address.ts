/**
 * Parses configured DNS server addresses: "1.2.3.4", "1.2.3.4:5353", "::1", "[::1]:5353". Only IP
 * literals: the resolver cannot resolve its own servers. A bad address is a config error.
 */
import net from "node:net";
import { DnsError } from "./dns-error.js";

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
  const s = spec.trim();
  let host: string;
  let portText: string | undefined;
  if (s.startsWith("[")) {
    const close = s.indexOf("]");
    if (close < 0) throw bad("missing ']'");
    host = s.slice(1, close);
    const rest = s.slice(close + 1);
    if (rest !== "") {
      if (!rest.startsWith(":")) throw bad("expected ':' after ']'");
      portText = rest.slice(1);
    }
  } else if (net.isIPv6(s)) {
    host = s;
  } else {
    const colon = s.lastIndexOf(":");
    host = colon < 0 ? s : s.slice(0, colon);
    portText = colon < 0 ? undefined : s.slice(colon + 1);
  }
  const family = net.isIP(host);
  if (family === 0) throw bad("not an IP address");
  let port = DEFAULT_DNS_PORT;
  if (portText !== undefined) {
    if (!/^\d{1,5}$/.test(portText)) throw bad("bad port");
    port = Number(portText);
    if (port < 1 || port > 65535) throw bad("port out of range");
  }
  const canon = family === 6 ? canonicalV6(host) : host;
  return {
    host: canon,
    port,
    family: family as 4 | 6,
    key: family === 6 ? `[${canon}]:${port}` : `${canon}:${port}`,
  };
}
