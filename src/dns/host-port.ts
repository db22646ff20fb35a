/**
 * The one `host:port` parser: config listen addresses and DNS servers, the admin server, and the
 * resolver's server list (`src/dns/server-address.ts`) all read addresses through it. IPv6 is written
 * in brackets (`[::1]:53`) so the last colon is always the port separator; the resolver alone also
 * takes a bare IPv6 address (no port), as its callers have always passed them.
 */
import { isIP } from "node:net";

export interface HostPort {
  host: string;
  port: number;
  /** 0 for a host name, 4 or 6 for an IP literal. */
  family: 0 | 4 | 6;
}

const HOST_NAME = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?(\.[a-z0-9]([a-z0-9-]*[a-z0-9])?)*$/i;

export type HostPortResult = { ok: true; value: HostPort } | { ok: false; problem: string };

/** Parses `host:port`; `defaultPort` makes the port optional. */
export function parseHostPort(
  text: string,
  opts: {
    defaultPort?: number;
    requireIp?: boolean;
    /** Listen addresses: 0 = any free port. */
    allowPortZero?: boolean;
    /** A bare IPv6 literal (`::1`, no brackets) is the address alone, with `defaultPort`. */
    allowBareIpv6?: boolean;
  } = {},
): HostPortResult {
  const fail = (problem: string): HostPortResult => ({ ok: false, problem });
  let host: string;
  let portText: string | undefined;
  const bracketed = /^\[([^\]]+)\](?::(.*))?$/.exec(text);
  if (bracketed) {
    host = bracketed[1] ?? "";
    portText = bracketed[2];
    if (isIP(host) !== 6) return fail(`expected an IPv6 address inside brackets, got "${text}"`);
  } else if (opts.allowBareIpv6 && isIP(text) === 6) {
    host = text;
    portText = undefined;
  } else {
    const colon = text.lastIndexOf(":");
    if (colon >= 0 && text.indexOf(":") !== colon) {
      return fail(`expected IPv6 in brackets with a port ("[::1]:53"), got "${text}"`);
    }
    host = colon >= 0 ? text.slice(0, colon) : text;
    portText = colon >= 0 ? text.slice(colon + 1) : undefined;
  }
  const family = isIP(host);
  if (family === 0) {
    if (opts.requireIp)
      return fail(`expected an IP address ("10.0.0.2:53" or "[fd00::2]:53"), got "${text}"`);
    if (!HOST_NAME.test(host)) return fail(`expected host:port, got "${text}"`);
  }
  let port: number;
  if (portText === undefined) {
    if (opts.defaultPort === undefined) return fail(`expected host:port with a port, got "${text}"`);
    port = opts.defaultPort;
  } else {
    port = /^\d{1,5}$/.test(portText) ? Number(portText) : Number.NaN;
    const min = opts.allowPortZero ? 0 : 1;
    if (!(port >= min && port <= 65535))
      return fail(`expected a port ${min}..65535 after the host, got "${text}"`);
  }
  return { ok: true, value: { host, port, family: family as 0 | 4 | 6 } };
}

/** The canonical text of a parsed address, brackets around IPv6. */
export function formatHostPort(hp: HostPort): string {
  return hp.family === 6 ? `[${hp.host}]:${hp.port}` : `${hp.host}:${hp.port}`;
}
