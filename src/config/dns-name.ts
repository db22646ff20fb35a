/**
 * Checks the DNS names written in the config before they ever reach the resolver, so a typo is a
 * config error with a path instead of a lookup failure at run time (RFC 1035 §2.3.1 / RFC 1123 §2.1).
 */

const LDH_LABEL = /^[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i;
/** SRV owner names (RFC 2782) put `_service._proto` labels in front of a host name. */
const SERVICE_LABEL = /^_[a-z0-9]([a-z0-9-]*[a-z0-9])?$/i;

export interface DnsNameRules {
  /** Allow `_label`s (SRV owners such as `_grpc._tcp.example.com`). */
  allowServiceLabels: boolean;
}

/** Returns why `name` is not a usable DNS name, or undefined when it is. A single trailing dot is fine. */
export function dnsNameProblem(name: string, rules: DnsNameRules): string | undefined {
  const bare = name.endsWith(".") ? name.slice(0, -1) : name;
  if (bare.length === 0) return "expected a DNS name, got an empty name";
  if (bare.length > 253) return `expected a DNS name of at most 253 characters, got ${bare.length}`;
  const labels = bare.split(".");
  for (const [i, label] of labels.entries()) {
    if (label.length === 0) return `expected no empty labels, label ${i + 1} is empty`;
    if (label.length > 63)
      return `expected labels of at most 63 characters, label ${i + 1} has ${label.length}`;
    if (LDH_LABEL.test(label)) continue;
    if (rules.allowServiceLabels && SERVICE_LABEL.test(label)) continue;
    return `expected letters, digits and inner hyphens in each label, label ${i + 1} is "${label}"`;
  }
  return undefined;
}
