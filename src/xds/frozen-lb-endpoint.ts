/**
 * Whether an LbEndpoint can never change again: every object on it, down to its addresses and metadata,
 * is frozen. The assignment builder freezes what it makes and reuses those messages from one rebuild to
 * the next, so what was checked or encoded about one of them once (resource-types/endpoint.ts,
 * cla-encoder.ts) holds for as long as the object lives.
 */
import type { Address } from "../gen/envoy/config/core/v3/address_pb.js";
import type { LbEndpoint } from "../gen/envoy/config/endpoint/v3/endpoint_components_pb.js";

export function isFrozenLbEndpoint(lb: LbEndpoint): boolean {
  if (!Object.isFrozen(lb) || !Object.isFrozen(lb.hostIdentifier)) return false;
  if (lb.hostIdentifier.case !== "endpoint") return false;
  const ep = lb.hostIdentifier.value;
  if (!Object.isFrozen(ep) || !Object.isFrozen(ep.additionalAddresses)) return false;
  if (!frozenAddress(ep.address)) return false;
  for (const extra of ep.additionalAddresses)
    if (!Object.isFrozen(extra) || !frozenAddress(extra.address)) return false;
  const md = lb.metadata;
  if (md !== undefined) {
    if (
      !Object.isFrozen(md) ||
      !Object.isFrozen(md.filterMetadata) ||
      !Object.isFrozen(md.typedFilterMetadata)
    )
      return false;
    for (const struct of Object.values(md.filterMetadata)) if (!Object.isFrozen(struct)) return false;
  }
  return true;
}

function frozenAddress(a: Address | undefined): boolean {
  return (
    a !== undefined &&
    Object.isFrozen(a) &&
    Object.isFrozen(a.address) &&
    a.address.case === "socketAddress" &&
    Object.isFrozen(a.address.value) &&
    Object.isFrozen(a.address.value.portSpecifier)
  );
}
