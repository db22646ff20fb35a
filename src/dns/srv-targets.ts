/**
 * Where the addresses of SRV targets come from: the additional section of the SRV reply, but only for
 * targets inside the bailiwick of the zone that answered (a server may not vouch for names outside its
 * zone: that is the classic cache-poisoning vector), else follow-up A/AAAA queries. The zone is taken
 * from the NS/SOA owner in the authority section that encloses the SRV name; without one, from the SRV
 * name with its leading `_service._proto` labels and one more label removed.
 */
import { isSubdomainOf } from "./name-validation.js";
import {
  CLASS_IN,
  TYPE_A,
  TYPE_AAAA,
  TYPE_NS,
  TYPE_SOA,
  type WireMessage,
  type WireRecord,
} from "./wire-decoder.js";

/** Distinct SRV targets given follow-up queries per lookup; more are left without addresses. */
export const MAX_SRV_TARGET_LOOKUPS = 64;

export function srvBailiwick(msg: WireMessage, srvName: string): string {
  let best: string | undefined;
  for (const r of msg.authorities) {
    if ((r.type !== TYPE_NS && r.type !== TYPE_SOA) || r.class !== CLASS_IN) continue;
    if (!isSubdomainOf(srvName, r.name)) continue;
    if (best === undefined || r.name.length > best.length) best = r.name;
  }
  if (best !== undefined && best !== ".") return best;
  const labels = srvName.split(".").filter((l) => l !== "");
  while (labels.length > 0 && labels[0]?.startsWith("_")) labels.shift();
  const parent = labels.length > 2 ? labels.slice(1) : labels;
  return parent.length === 0 ? srvName : `${parent.join(".")}.`;
}

export interface AdditionalAddresses {
  a: WireRecord[];
  aaaa: WireRecord[];
}

/** A/AAAA for `target` from the additional section, or undefined when there are none to trust. */
export function addressesFromAdditional(
  msg: WireMessage,
  target: string,
  bailiwick: string,
): AdditionalAddresses | undefined {
  if (!isSubdomainOf(target, bailiwick)) return undefined;
  const a: WireRecord[] = [];
  const aaaa: WireRecord[] = [];
  for (const r of msg.additionals) {
    if (r.name !== target || r.class !== CLASS_IN) continue;
    if (r.type === TYPE_A) a.push(r);
    else if (r.type === TYPE_AAAA) aaaa.push(r);
  }
  return a.length + aaaa.length > 0 ? { a, aaaa } : undefined;
}
