/**
 * Reads the `nameserver` lines of resolv.conf, the DNS servers dns-eds uses when the config names none.
 * Only the server list is taken; timeouts and attempts stay dns-eds' own defaults.
 */
import { formatHostPort, parseHostPort } from "./host-port.js";

/** `ip:port` for each usable nameserver line, in file order (link-local zone ids are skipped). */
export function nameserversFromResolvConf(text: string): string[] {
  const servers: string[] = [];
  for (const raw of text.split("\n")) {
    const line = raw.replace(/[#;].*$/, "").trim();
    const m = /^nameserver\s+(\S+)$/.exec(line);
    if (!m?.[1]) continue;
    const addr = m[1];
    // A scoped address (fe80::1%eth0) cannot be written as ip:port in the config either.
    if (addr.includes("%")) continue;
    const r = parseHostPort(addr.includes(":") ? `[${addr}]` : addr, { defaultPort: 53, requireIp: true });
    if (r.ok) servers.push(formatHostPort(r.value));
  }
  return servers;
}
