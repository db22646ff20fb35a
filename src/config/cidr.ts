/**
 * Validates the CIDR blocks of the DNS rebinding guard (`10.0.0.0/8`, `fd00::/8`) so a malformed
 * range is rejected when the file is read rather than silently guarding nothing.
 */
import { isIP } from "node:net";

/** Returns why `text` is not a CIDR block, or undefined when it is. */
export function cidrProblem(text: string): string | undefined {
  const slash = text.indexOf("/");
  if (slash < 0) return `expected a CIDR block such as "10.0.0.0/8", got "${text}"`;
  const address = text.slice(0, slash);
  const bitsText = text.slice(slash + 1);
  const family = isIP(address);
  if (family === 0) return `expected an IP address before "/", got "${text}"`;
  const max = family === 4 ? 32 : 128;
  const bits = /^\d{1,3}$/.test(bitsText) ? Number(bitsText) : Number.NaN;
  if (!(bits >= 0 && bits <= max)) return `expected a prefix length 0..${max}, got "${text}"`;
  return undefined;
}
