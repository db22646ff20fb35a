/**
 * Whether an LbEndpoint can never change again: every object on the paths the store checks and the CLA
 * encoder writes is frozen, and none carries unknown fields (an array of them could still grow). The
 * assignment builder freezes what it makes and reuses those messages from one rebuild to the next, so
 * what was checked or encoded about such an endpoint once holds for every later assignment that lists
 * it; anything else is checked and encoded afresh every time.
 */
import type { Address } from "../gen/envoy/config/core/v3/address_pb.js";
import type { LbEndpoint } from "../gen/envoy/config/endpoint/v3/endpoint_components_pb.js";

const sealed = (m: object): boolean =>
  Object.isFrozen(m) && (m as { $unknown?: unknown }).$unknown === undefined;

function frozenAddress(a: Address | undefined): boolean {
  return (
    a !== undefined &&
    sealed(a) &&
    Object.isFrozen(a.address) &&
    a.address.case === "socketAddress" &&
    sealed(a.address.value) &&
    Object.isFrozen(a.address.value.portSpecifier)
  );
}

export function isFrozenLbEndpoint(lb: LbEndpoint): boolean {
  if (!sealed(lb) || !Object.isFrozen(lb.hostIdentifier)) return false;
  if (lb.hostIdentifier.case !== "endpoint") return false;
  const ep = lb.hostIdentifier.value;
  if (!sealed(ep) || !Object.isFrozen(ep.additionalAddresses)) return false;
  if (!frozenAddress(ep.address)) return false;
  for (const extra of ep.additionalAddresses)
    if (!sealed(extra) || !frozenAddress(extra.address)) return false;
  const md = lb.metadata;
  if (md !== undefined) {
    if (!sealed(md) || !Object.isFrozen(md.filterMetadata) || !Object.isFrozen(md.typedFilterMetadata))
      return false;
    for (const struct of Object.values(md.filterMetadata)) if (!Object.isFrozen(struct)) return false;
  }
  return true;
}
