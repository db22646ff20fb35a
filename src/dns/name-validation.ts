/**
 * Checks and normalises DNS names before they reach the wire or the config. dns-packet's encoder turns
 * `a..example` into junk, so nothing unchecked may be encoded. Rules: labels 1–63 octets, name ≤ 253
 * characters without the final dot, letters/digits/hyphen/underscore only (underscore for SRV owners).
 */
import { DnsError } from "./dns-error.js";

export const MAX_NAME_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;

const LABEL_RE = /^[A-Za-z0-9_-]+$/;

/** Returns why `name` is invalid, or undefined when it is valid. A single trailing dot is allowed. */
export function nameProblem(name: string): string | undefined {
  if (typeof name !== "string") return "not a string";
  const bare = name.endsWith(".") ? name.slice(0, -1) : name;
  if (bare.length === 0) return "empty name";
  if (bare.length > MAX_NAME_LENGTH) return `name longer than ${MAX_NAME_LENGTH} characters`;
  for (const label of bare.split(".")) {
    if (label.length === 0) return "empty label";
    if (label.length > MAX_LABEL_LENGTH) return `label longer than ${MAX_LABEL_LENGTH} characters`;
    if (!LABEL_RE.test(label)) return `label "${label}" has characters other than letters, digits, '-', '_'`;
  }
  return undefined;
}

export function isValidName(name: string): boolean {
  return nameProblem(name) === undefined;
}

/** Lower-case, fully qualified (trailing dot). Throws DnsError ERR_DNS_BAD_NAME on an invalid name. */
export function normalizeName(name: string): string {
  const problem = nameProblem(name);
  if (problem !== undefined)
    throw new DnsError("ERR_DNS_BAD_NAME", `invalid DNS name ${JSON.stringify(name)}: ${problem}`);
  const lower = name.toLowerCase();
  return lower.endsWith(".") ? lower : `${lower}.`;
}

/** True when `name` equals `zone` or lies below it (both normalised, trailing dot). */
export function isSubdomainOf(name: string, zone: string): boolean {
  if (zone === ".") return true;
  return name === zone || name.endsWith(`.${zone}`);
}

/**
 * DNS 0x20: flips the case of each letter by one random bit so an off-path spoofer must also guess the
 * case pattern. `bits` supplies randomness (one bit per letter, cycling through the buffer).
 */
export function randomizeCase(name: string, bits: Uint8Array): string {
  let out = "";
  let bit = 0;
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    const isLetter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
    if (!isLetter) {
      out += name[i];
      continue;
    }
    const byte = bits[(bit >> 3) % bits.length] ?? 0;
    const upper = ((byte >> (bit & 7)) & 1) === 1;
    bit++;
    out += String.fromCharCode(upper ? c & ~0x20 : c | 0x20);
  }
  return out;
}
