/**
 * Optional DNS-rebinding guard: addresses inside operator-listed CIDR ranges (e.g. 127.0.0.0/8,
 * 169.254.0.0/16, fd00::/8) are dropped from answers. Empty by default because tests and local
 * deployments resolve to loopback.
 */
import net from "node:net";
import { DnsError } from "./dns-error.js";

export interface RebindingGuard {
  /** True when `address` must be dropped. */
  blocks(address: string, family: 4 | 6): boolean;
}

export function createRebindingGuard(cidrs: readonly string[]): RebindingGuard | undefined {
  if (cidrs.length === 0) return undefined;
  const list = new net.BlockList();
  for (const cidr of cidrs) {
    const [addr, lenText] = cidr.split("/");
    const fam = net.isIP(addr ?? "");
    const len = lenText === undefined ? (fam === 6 ? 128 : 32) : Number(lenText);
    if (fam === 0 || !Number.isInteger(len) || len < 0 || len > (fam === 6 ? 128 : 32)) {
      throw new DnsError("ERR_DNS_BAD_CONFIG", `bad rebinding-guard range ${JSON.stringify(cidr)}`);
    }
    list.addSubnet(addr as string, len, fam === 6 ? "ipv6" : "ipv4");
  }
  return { blocks: (address, family) => list.check(address, family === 6 ? "ipv6" : "ipv4") };
}
