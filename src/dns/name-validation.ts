/**
 * Checks and normalises DNS names before they reach the wire or the config. dns-packet's encoder turns
 * `a..example` into junk, so nothing unchecked may be encoded. Rules: labels 1–63 octets, name ≤ 253
 * characters without the final dot, letters/digits/hyphen/underscore only (underscore for SRV owners).
 */
import { DnsError } from "./dns-error.js";

export const MAX_NAME_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;

function isLabelChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === 0x5f
  );
}

/** Returns why `name` is invalid, or undefined when it is valid. A single trailing dot is allowed. */
export function nameProblem(name: string): string | undefined {
  if (typeof name !== "string") return "not a string";
  // One pass over the characters: this runs on every lookup.
  const end = name.endsWith(".") ? name.length - 1 : name.length;
  if (end === 0) return "empty name";
  if (end > MAX_NAME_LENGTH) return `name longer than ${MAX_NAME_LENGTH} characters`;
  let labelStart = 0;
  for (let i = 0; i <= end; i++) {
    if (i === end || name.charCodeAt(i) === 0x2e) {
      const len = i - labelStart;
      if (len === 0) return "empty label";
      if (len > MAX_LABEL_LENGTH) return `label longer than ${MAX_LABEL_LENGTH} characters`;
      labelStart = i + 1;
    } else if (!isLabelChar(name.charCodeAt(i))) {
      const label = name.slice(labelStart, name.indexOf(".", i) < 0 ? end : name.indexOf(".", i));
      return `label "${label}" has characters other than letters, digits, '-', '_'`;
    }
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
