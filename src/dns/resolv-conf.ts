/**
 * The one resolv.conf(5) reader: the resolver's defaults and the config's `dns.servers` fallback both
 * come from here. `nameserver` lines (IPv4/IPv6, at most 3 as glibc) and `options timeout:N
 * attempts:N` (glibc clamps: timeout ≤ 30 s, attempts ≤ 5). A scoped address (`fe80::1%eth0`) is
 * skipped: without its zone it would be sent out of the wrong interface, and an `ip:port` server
 * cannot carry one. Unknown lines are ignored, as glibc does.
 */
import { readFileSync } from "node:fs";
import net from "node:net";
import { DnsError } from "./dns-error.js";

export interface ResolvConf {
  /** "host:53" / "[v6]:53" strings, in file order. */
  servers: string[];
  /** Per-try timeout in ms (glibc default 5 s). */
  timeoutMs: number;
  /** Tries per server (glibc default 2). */
  attempts: number;
}

export const RESOLV_CONF_PATH = "/etc/resolv.conf";
const GLIBC_DEFAULT_TIMEOUT_S = 5;
const GLIBC_DEFAULT_ATTEMPTS = 2;
const GLIBC_MAX_TIMEOUT_S = 30;
const GLIBC_MAX_ATTEMPTS = 5;
const GLIBC_MAX_NAMESERVERS = 3;

export function parseResolvConf(text: string): ResolvConf {
  const servers: string[] = [];
  let timeoutS = GLIBC_DEFAULT_TIMEOUT_S;
  let attempts = GLIBC_DEFAULT_ATTEMPTS;
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.replace(/[#;].*$/, "").trim();
    if (line === "") continue;
    const [key, ...args] = line.split(/\s+/);
    if (key === "nameserver" && args[0] !== undefined) {
      const host = args[0].trim();
      const fam = net.isIP(host);
      if (fam === 0 || host.includes("%") || servers.length >= GLIBC_MAX_NAMESERVERS) continue;
      servers.push(fam === 6 ? `[${host}]:53` : `${host}:53`);
    } else if (key === "options") {
      for (const opt of args) {
        const m = /^(timeout|attempts):(\d+)$/.exec(opt);
        if (!m) continue;
        const n = Number(m[2]);
        if (m[1] === "timeout") timeoutS = Math.min(Math.max(n, 1), GLIBC_MAX_TIMEOUT_S);
        else attempts = Math.min(Math.max(n, 1), GLIBC_MAX_ATTEMPTS);
      }
    }
  }
  return { servers, timeoutMs: timeoutS * 1000, attempts };
}

export function loadResolvConf(path = RESOLV_CONF_PATH): ResolvConf {
  let text: string;
  try {
    text = readFileSync(path, "utf8");
  } catch (e) {
    throw new DnsError("ERR_DNS_BAD_CONFIG", `cannot read ${path}: ${(e as Error).message}`, { cause: e });
  }
  return parseResolvConf(text);
}
