/**
 * LbEndpoints that can never change again, and what was derived about each once. "Never change" means
 * every object on the paths the store checks and the CLA encoder writes is frozen, and none carries
 * unknown fields (an array of them could still grow). The assignment builder freezes what it makes and
 * reuses those messages from one rebuild to the next, so what the store checked (address keys) and the
 * encoder wrote (where the message's bytes are) about such an endpoint holds for every later assignment listing it.
 *
 * Those facts live in one record per endpoint. The builder's endpoints carry theirs in a hidden slot of
 * their own, attached as it freezes them: a rebuild of a 10,000-endpoint cluster reads each endpoint's
 * facts twice or three times, and a property load costs a fraction of the WeakMap lookup it replaced
 * (whose per-endpoint hashing showed as about a fifth of such a rebuild in process). Endpoints frozen
 * elsewhere (deeply, by anyone) are proven so once and get their record from a WeakMap.
 */
import type { Address } from "../gen/envoy/config/core/v3/address_pb.js";
import type { LbEndpoint } from "../gen/envoy/config/endpoint/v3/endpoint_components_pb.js";

/** What the store and the encoder derived from one unchangeable LbEndpoint; filled in as each gets to it. */
export interface FrozenLbFacts {
  /** The address keys (`address|port`) the store's EDS check returned: primary first, then additional. */
  keys: readonly string[] | undefined;
  /**
   * Where the encoder last wrote this endpoint: `src` is the last assignment buffer that listed it and
   * `at`/`len` bound its whole `lb_endpoints` field there (tag, length, body). Assignment buffers are
   * never written after encoding, so those bytes stay this endpoint's encoding for as long as it lives.
   */
  src: Uint8Array | undefined;
  at: number;
  len: number;
}

const FACTS = Symbol("dns-eds.frozen-lb-facts");
/** A builder-made endpoint's own record; `proven` once isFrozenLbEndpoint said yes after its freeze. */
type OwnFacts = FrozenLbFacts & { proven: boolean };
type WithFacts = { readonly [FACTS]?: OwnFacts };
/** Records of endpoints that were frozen by someone else, proven unchangeable by isFrozenLbEndpoint. */
const adopted = new WeakMap<object, FrozenLbFacts>();

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

/** The facts record of an LbEndpoint that can never change; undefined for one that still can. */
export function frozenLbFacts(lb: LbEndpoint): FrozenLbFacts | undefined {
  const own = (lb as WithFacts)[FACTS];
  if (own !== undefined) return own.proven ? own : undefined;
  let facts = adopted.get(lb);
  if (facts === undefined && isFrozenLbEndpoint(lb)) {
    facts = { keys: undefined, src: undefined, at: 0, len: 0 };
    adopted.set(lb, facts);
  }
  return facts;
}

/**
 * Freezes a message the caller just made, all the way down, and gives it its facts slot. The caller must
 * not have handed it to anyone yet and must not carry unknown fields (the builder's never do). The slot
 * is a non-enumerable symbol: protobuf-es reads messages by their schema's fields, and equality and
 * copies by own enumerable keys, so neither sees it.
 */
export function freezeLbEndpoint(lb: LbEndpoint): LbEndpoint {
  const own: OwnFacts = { keys: undefined, src: undefined, at: 0, len: 0, proven: false };
  // Before the freeze: a frozen object takes no new property.
  Object.defineProperty(lb, FACTS, { value: own });
  const freezeAddress = (a: Address | undefined): void => {
    if (a === undefined) return;
    if (a.address.case === "socketAddress") {
      Object.freeze(a.address.value.portSpecifier);
      Object.freeze(a.address.value);
    }
    Object.freeze(a.address);
    Object.freeze(a);
  };
  if (lb.hostIdentifier.case === "endpoint") {
    const ep = lb.hostIdentifier.value;
    freezeAddress(ep.address);
    for (const extra of ep.additionalAddresses) {
      freezeAddress(extra.address);
      Object.freeze(extra);
    }
    Object.freeze(ep.additionalAddresses);
    Object.freeze(ep);
  }
  Object.freeze(lb.hostIdentifier);
  if (lb.metadata) {
    for (const struct of Object.values(lb.metadata.filterMetadata)) Object.freeze(struct);
    Object.freeze(lb.metadata.filterMetadata);
    Object.freeze(lb.metadata.typedFilterMetadata);
    Object.freeze(lb.metadata);
  }
  Object.freeze(lb);
  // Proven, not assumed: an unknown field or a non-socket address would leave it changeable, and the
  // record is the encoder's and the store's licence to skip their work for it.
  own.proven = isFrozenLbEndpoint(lb);
  return lb;
}
