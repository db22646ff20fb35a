/**
 * Per-node authorization of xDS streams (`xds.authorization`). A stream is admitted by the identity in
 * its client certificate (SPIFFE URI SAN or DNS SAN); the first rule whose `identities` match decides
 * which node ids the client may claim, which locality zones (so which zone-aware variant it may pick),
 * and which resources it may receive. A client claiming another node id or zone is refused with
 * PERMISSION_DENIED; a resource outside its rule is, for that client, absent: a wildcard leaves it out,
 * a named request gets what a name that does not exist gets.
 *
 * Resource names are matched for every type alike: dns-eds names a cluster's Cluster, its
 * ClusterLoadAssignment and (grpcListener) its Listener and RouteConfiguration after the cluster, so
 * `clusters: ["web"]` lets a client see all four of "web" and nothing of "payments".
 */
import type { PeerCertificate } from "node:tls";
import { XdsError } from "./errors.js";
import { NamePatterns } from "./name-pattern.js";
import type { NodeInfo } from "./node-info.js";
import { identityOf, type PeerIdentity } from "./peer-identity.js";

export interface AuthorizationRule {
  /** SPIFFE IDs or DNS names (patterns, `*` = any run of characters) this rule is for. */
  identities: readonly string[];
  /** Node ids a client of these identities may claim. */
  nodeIds: readonly string[];
  /** Resource names (clusters) it may receive. */
  clusters: readonly string[];
  /** Locality zones it may claim; absent = any. A node without a zone is always allowed. */
  zones?: readonly string[];
  /** May read every client's status (fleet status / CSDS), not only its own. */
  operator?: boolean;
}

/** The part of a grpc-js server call authorization reads (grpc-js ≥ 1.12 `getAuthContext()`). */
export interface AuthenticatedCall {
  getAuthContext(): { sslPeerCertificate?: PeerCertificate } | null;
}

/** Who a stream was admitted as. */
export interface CallIdentity {
  /** The SAN that matched the rule. */
  principal: string;
  /** Index of the rule in `xds.authorization.rules`. */
  rule: number;
  operator: boolean;
}

export type DenyReason = "no-identity" | "unknown-identity" | "node-id" | "zone";

/** A client was refused by authorization; its stream ends with PERMISSION_DENIED. */
export class DeniedError extends XdsError {
  readonly reason: DenyReason;
  constructor(reason: DenyReason, message: string) {
    super("ERR_XDS_DENIED", `${message} (xds.authorization)`);
    this.reason = reason;
  }
}

interface CompiledRule {
  source: AuthorizationRule;
  identities: NamePatterns;
  nodeIds: NamePatterns;
  clusters: NamePatterns;
  zones: Set<string> | undefined;
}

/** What one admitted stream may do. */
export class StreamAccess {
  constructor(
    readonly identity: CallIdentity,
    /** The certificate's SANs, kept to re-check the stream when the rules change. */
    readonly peer: PeerIdentity,
    private readonly rule: CompiledRule,
  ) {}

  /** Throws DeniedError unless the client's certificate allows the node id and zone it claims. */
  checkNode(node: NodeInfo | undefined): void {
    if (node === undefined) {
      throw new DeniedError("node-id", "the first request names no node, so no node id can be checked");
    }
    if (!this.rule.nodeIds.matches(node.id)) {
      throw new DeniedError("node-id", `${this.identity.principal} may not claim node id "${clip(node.id)}"`);
    }
    const zone = node.locality?.zone ?? "";
    if (zone !== "" && this.rule.zones !== undefined && !this.rule.zones.has(zone)) {
      throw new DeniedError("zone", `${this.identity.principal} may not claim zone "${clip(zone)}"`);
    }
  }

  allowsResource(name: string): boolean {
    return this.rule.clusters.matches(name);
  }

  /** The same rule as `other` (a reload that leaves this stream's rights as they were). */
  sameRights(other: StreamAccess): boolean {
    return JSON.stringify(this.rule.source) === JSON.stringify(other.rule.source);
  }
}

export class XdsAuthorization {
  private readonly rules: CompiledRule[];

  constructor(rules: readonly AuthorizationRule[]) {
    this.rules = rules.map((r) => ({
      source: r,
      identities: new NamePatterns(r.identities),
      nodeIds: new NamePatterns(r.nodeIds),
      clusters: new NamePatterns(r.clusters),
      zones: r.zones === undefined ? undefined : new Set(r.zones),
    }));
  }

  /** Who the caller is, or DeniedError. */
  identify(call: AuthenticatedCall): CallIdentity {
    return this.admit(call).identity;
  }

  /** Admits a new stream by its caller's certificate, or throws DeniedError. */
  admit(call: AuthenticatedCall): StreamAccess {
    const peer = identityOf(call.getAuthContext()?.sslPeerCertificate);
    if (peer === undefined) {
      throw new DeniedError("no-identity", "the client presented no verified certificate");
    }
    return this.admitPeer(peer);
  }

  /** Admits a client by the SANs of its certificate (also used to re-check streams after a reload). */
  admitPeer(peer: PeerIdentity): StreamAccess {
    const sans = [...peer.uris, ...peer.dnsNames];
    if (sans.length === 0) {
      throw new DeniedError(
        "no-identity",
        "the client certificate has no URI or DNS subject alternative name",
      );
    }
    for (const [i, rule] of this.rules.entries()) {
      const principal = sans.find((s) => rule.identities.matches(s));
      if (principal !== undefined) {
        return new StreamAccess({ principal, rule: i, operator: rule.source.operator === true }, peer, rule);
      }
    }
    throw new DeniedError("unknown-identity", `no rule for ${sans.map((s) => clip(s)).join(", ")}`);
  }
}

/** Client-chosen text in an error message: short. */
function clip(text: string, max = 200): string {
  return text.length <= max ? text : `${text.slice(0, max)}…`;
}
