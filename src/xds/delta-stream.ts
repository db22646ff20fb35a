/**
 * One incremental (Delta) xDS stream. Subscription changes apply even with a stale nonce (only the
 * ACK/NACK part needs the current nonce); `initial_resource_versions` spares a reconnecting client what
 * it already has; removals and names that do not exist go in `removed_resources`; NACKed versions are
 * never offered again until the content changes.
 */
import type { ServerDuplexStream } from "@grpc/grpc-js";
import type { DeltaDiscoveryRequest } from "../gen/envoy/service/discovery/v3/discovery_pb.js";
import type { EncodedResource } from "./encoded-resource.js";
import { encodeDeltaResponse } from "./response-encoder.js";
import { type Phase, type StreamContext, type TypeStateBase, XdsStreamBase } from "./stream-base.js";
import { isFullStateType, typeLabel } from "./type-urls.js";

interface DeltaTypeState extends TypeStateBase {
  /** What the client holds (acked, plus what is in flight; reverted on NACK). */
  clientHas: Map<string, string>;
  acked: Map<string, string>;
  inflight: Map<string, string> | undefined;
  /** Subscribed names already reported as absent; reported again only after they existed. */
  reportedAbsent: Set<string>;
}

export class DeltaStream extends XdsStreamBase<DeltaTypeState, DeltaDiscoveryRequest> {
  constructor(ctx: StreamContext, call: ServerDuplexStream<DeltaDiscoveryRequest, Buffer>) {
    super(ctx, call);
  }

  protected newState(typeUrl: string): DeltaTypeState {
    return createState(typeUrl);
  }

  protected handle(req: DeltaDiscoveryRequest): void {
    const found = this.stateForRequest(req.node, req.typeUrl);
    if (!found) return;
    const { st, first } = found;
    if (first) {
      for (const [n, v] of Object.entries(req.initialResourceVersions)) {
        st.clientHas.set(n, v);
        st.acked.set(n, v);
        // Checked on the first push: a resource deleted while the client was away must be reported removed.
        st.pending.add(n);
      }
    }
    if (req.responseNonce !== "" && req.responseNonce === st.nonce) {
      if (req.errorDetail) this.onNack(st, req.errorDetail.message);
      else this.onAck(st);
    }
    this.applySubscriptions(st, req, first);
  }

  private onAck(st: DeltaTypeState): void {
    if (!st.inflight) return;
    for (const [n, v] of st.inflight) {
      if (v === "") st.acked.delete(n);
      else st.acked.set(n, v);
      if (st.rejected.get(n) === v) st.rejected.delete(n);
    }
    st.inflight = undefined;
  }

  private onNack(st: DeltaTypeState, detail: string): void {
    this.ctx.metrics.nacked(st.typeUrl, detail);
    this.ctx.logger.warn({ typeUrl: st.typeUrl, node: this.node?.id, detail }, "xds NACK");
    if (!st.inflight) return;
    for (const [n, v] of st.inflight) {
      if (v === "") continue;
      st.rejected.set(n, v);
      const good = st.acked.get(n);
      if (good === undefined) st.clientHas.delete(n);
      else st.clientHas.set(n, good);
    }
    st.inflight = undefined;
  }

  private applySubscriptions(st: DeltaTypeState, req: DeltaDiscoveryRequest, first: boolean): void {
    let wildcard = st.wildcard;
    if (first && isFullStateType(st.typeUrl) && req.resourceNamesSubscribe.length === 0) wildcard = true;
    const added: string[] = [];
    for (const n of req.resourceNamesSubscribe) {
      if (n === "*") {
        wildcard = true;
        continue;
      }
      // Asking again for a name already subscribed means the client wants it resent.
      if (st.names.has(n)) st.force.add(n);
      else st.names.add(n);
      added.push(n);
    }
    for (const n of req.resourceNamesUnsubscribe) {
      if (n === "*") {
        wildcard = false;
        continue;
      }
      st.names.delete(n);
      st.force.delete(n);
      st.reportedAbsent.delete(n);
      if (!wildcard) {
        st.clientHas.delete(n);
        st.acked.delete(n);
      }
    }
    if (!wildcard && st.wildcard) {
      for (const n of [...st.clientHas.keys()]) {
        if (!st.names.has(n)) {
          st.clientHas.delete(n);
          st.acked.delete(n);
        }
      }
    }
    const turnedOn = wildcard && !st.wildcard;
    const changed =
      first ||
      wildcard !== st.wildcard ||
      req.resourceNamesSubscribe.length > 0 ||
      req.resourceNamesUnsubscribe.length > 0;
    st.wildcard = wildcard;
    // A plain ACK changes no subscription: no re-index, no pump.
    if (changed) this.updateInterest(st, added, turnedOn);
  }

  protected build(st: DeltaTypeState, phase: Phase): Buffer | undefined {
    const store = this.ctx.store;
    if (phase === "upsert") {
      const out: EncodedResource[] = [];
      for (const n of st.pending) {
        if (!this.subscribed(st, n)) continue;
        const e = store.getEncoded(st.typeUrl, n, this.variantKey);
        if (!e || st.rejected.get(n) === e.version) continue;
        if (!st.force.has(n) && st.clientHas.get(n) === e.version) continue;
        out.push(e);
      }
      if (out.length === 0) return undefined;
      const sent = new Map<string, string>();
      for (const e of out) {
        st.clientHas.set(e.name, e.version);
        st.force.delete(e.name);
        st.reportedAbsent.delete(e.name);
        st.pending.delete(e.name);
        sent.set(e.name, e.version);
      }
      return this.emit(st, out, [], sent);
    }
    const removed: string[] = [];
    for (const n of st.pending) {
      if (store.getEncoded(st.typeUrl, n) !== undefined) continue;
      if (st.clientHas.has(n)) {
        removed.push(n);
      } else if (st.names.has(n) && !st.reportedAbsent.has(n)) {
        // Tells the client the name does not exist (yet) instead of letting it time out.
        removed.push(n);
      }
    }
    if (removed.length === 0) return undefined;
    const sent = new Map<string, string>();
    for (const n of removed) {
      st.clientHas.delete(n);
      if (st.names.has(n)) st.reportedAbsent.add(n);
      st.pending.delete(n);
      sent.set(n, "");
    }
    return this.emit(st, [], removed, sent);
  }

  private emit(
    st: DeltaTypeState,
    resources: EncodedResource[],
    removed: string[],
    sent: Map<string, string>,
  ): Buffer {
    st.inflight = new Map([...(st.inflight ?? []), ...sent]);
    const nonce = this.nextNonce();
    st.nonce = nonce;
    if (this.ctx.logger.isLevelEnabled("debug")) {
      this.ctx.logger.debug(
        {
          typeUrl: typeLabel(st.typeUrl),
          n: resources.length,
          removed: removed.length,
          nonce,
          node: this.node?.id,
        },
        "delta push",
      );
    }
    const key = `d\0${st.typeUrl}\0${nonce}\0${resources.map((e) => `${e.name}\0${e.version}`).join("\0")}\0\0${removed.join("\0")}`;
    return this.ctx.shared.get(this.ctx.store.generation, key, () =>
      encodeDeltaResponse({ typeUrl: st.typeUrl, nonce, resources, removed }),
    );
  }
}

function createState(typeUrl: string): DeltaTypeState {
  return {
    typeUrl,
    names: new Set(),
    wildcard: false,
    pending: new Set(),
    force: new Set(),
    rejected: new Map(),
    nonce: "",
    since: undefined,
    clientHas: new Map(),
    acked: new Map(),
    inflight: undefined,
    reportedAbsent: new Set(),
  };
}
