/**
 * The one DNS-name validator of dns-eds: config, resolver, cache and the SRV-target check all call it,
 * with one of three rule sets, so a name means the same everywhere. dns-packet's encoder turns
 * `a..example` into junk, so nothing unchecked may reach the wire either. Common to all: labels 1–63
 * octets, name ≤ 253 characters without the final dot (a single trailing dot is allowed).
 *
 * - `lookup` (what the resolver and the cache accept): letters, digits, `-` and `_` anywhere, because
 *   SRV owners start with `_service._proto` and real zones do have `_` in host labels.
 * - `host` (config `dns.name`, SRV targets): RFC 1123 host names: letters, digits and inner hyphens.
 * - `service` (config `srv.name`): a host name that may start with `_label`s (RFC 2782 owners).
 */
import { DnsError } from "./dns-error.js";

export const MAX_NAME_LENGTH = 253;
export const MAX_LABEL_LENGTH = 63;

export type NameRules = "lookup" | "host" | "service";

function isLabelChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) ||
    (c >= 0x41 && c <= 0x5a) ||
    (c >= 0x30 && c <= 0x39) ||
    c === 0x2d ||
    c === 0x5f
  );
}

const LDH_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i;
const SERVICE_LABEL = /^_[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i;

/** Returns why `name` is invalid under `rules`, or undefined when it is valid. */
export function nameProblem(name: string, rules: NameRules = "lookup"): string | undefined {
  if (typeof name !== "string") return "not a string";
  if (rules !== "lookup") return hostNameProblem(name, rules === "service");
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

/** The `host` and `service` rules, worded for a config file (`expected …`). */
function hostNameProblem(name: string, serviceLabels: boolean): string | undefined {
  const bare = name.endsWith(".") ? name.slice(0, -1) : name;
  if (bare.length === 0) return "expected a DNS name, got an empty name";
  if (bare.length > MAX_NAME_LENGTH)
    return `expected a DNS name of at most ${MAX_NAME_LENGTH} characters, got ${bare.length}`;
  const labels = bare.split(".");
  for (const [i, label] of labels.entries()) {
    if (label.length === 0) return `expected no empty labels, label ${i + 1} is empty`;
    if (label.length > MAX_LABEL_LENGTH)
      return `expected labels of at most ${MAX_LABEL_LENGTH} characters, label ${i + 1} has ${label.length}`;
    if (LDH_LABEL.test(label)) continue;
    if (serviceLabels && SERVICE_LABEL.test(label)) continue;
    return `expected letters, digits and inner hyphens in each label, label ${i + 1} is "${label}"`;
  }
  return undefined;
}

export function isValidName(name: string, rules: NameRules = "lookup"): boolean {
  return nameProblem(name, rules) === undefined;
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
