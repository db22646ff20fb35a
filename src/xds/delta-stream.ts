/**
 * One incremental (Delta) xDS stream. Subscription changes apply even with a stale nonce (only the
 * ACK/NACK part needs the current nonce); `initial_resource_versions` spares a reconnecting client what
 * it already has; removals and names that do not exist go in `removed_resources`; NACKed versions are
 * never offered again until the content changes.
 */
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { clipClientText } from "./client-text-log.js";
import type { EncodedResource } from "./encoded-resource.js";
import type { XdsRequest } from "./request-scanner.js";
import { encodeDeltaResponse } from "./response-encoder.js";
import {
  addPending,
  deletePending,
  type Phase,
  pendingNames,
  type StreamContext,
  TypeStateBase,
  XdsStreamBase,
} from "./stream-base.js";
import { isFullStateType, typeLabel } from "./type-urls.js";

class DeltaTypeState extends TypeStateBase {
  /** What the client holds (acked, plus what is in flight; reverted on NACK). */
  clientHas = new Map<string, string>();
  /**
   * Subscribed names already reported as absent; reported again only after they existed. Undefined
   * until there is one (see `force` in stream-base.ts: one object fewer per push to reach).
   */
  reportedAbsent: Set<string> | undefined = undefined;
}

export class DeltaStream extends XdsStreamBase<DeltaTypeState> {
  constructor(ctx: StreamContext, call: ServerDuplexStream<XdsRequest, Buffer>) {
    super(ctx, call);
  }

  protected newState(typeUrl: string): DeltaTypeState {
    return new DeltaTypeState(typeUrl);
  }

  protected handle(req: XdsRequest, typeUrl: string | undefined, existing: DeltaTypeState | undefined): void {
    const st = this.stateForRequest(req, typeUrl, existing);
    if (!st) return;
    const first = existing === undefined;
    if (first) {
      const initial = req.initialVersions();
      let bytes = 0;
      for (const [n, v] of initial) bytes += Buffer.byteLength(n) + Buffer.byteLength(v);
      // Held for the stream's life (clientHas/acked), so counted until it ends.
      this.reserveNames(0, bytes);
      for (const [n, v] of initial) {
        st.clientHas.set(n, v);
        st.acked.set(n, { version: v, at: undefined });
        // Checked on the first push: a resource deleted while the client was away must be reported removed.
        addPending(st, n);
      }
    }
    if (req.responseNonce !== "" && req.responseNonce === st.nonce) {
      if (req.hasErrorDetail) this.onNack(st, req.errorMessage());
      else this.onAck(st);
    }
    this.applySubscriptions(st, req.subscribe(), req.unsubscribe(), first);
  }

  private onAck(st: DeltaTypeState): void {
    if (!st.inflight) return;
    const now = this.ctx.now();
    for (const [n, v] of st.inflight) {
      if (v === "") st.acked.delete(n);
      else this.noteAck(st, n, v, now);
      if (st.rejected !== undefined && st.rejected.get(n) === v) st.rejected.delete(n);
    }
    st.inflight = undefined;
    st.lastNack = undefined;
  }

  private onNack(st: DeltaTypeState, detail: string): void {
    const refused: Array<{ name: string; version: string }> = [];
    for (const [n, v] of st.inflight ?? []) if (v !== "") refused.push({ name: n, version: v });
    this.onNackCommon(st, detail, refused);
    if (!st.inflight) return;
    st.rejected ??= new Map();
    const rejected = st.rejected;
    for (const { name: n, version: v } of refused) {
      rejected.set(n, v);
      const good = st.acked.get(n)?.version;
      if (good === undefined) st.clientHas.delete(n);
      else st.clientHas.set(n, good);
    }
    this.noteNack(
      st,
      detail,
      refused.map((r) => r.name),
    );
    st.inflight = undefined;
  }

  private applySubscriptions(
    st: DeltaTypeState,
    subscribe: readonly string[],
    unsubscribe: readonly string[],
    first: boolean,
  ): void {
    this.reserveChange(st, subscribe, unsubscribe);
    let wildcard = st.wildcard;
    if (first && isFullStateType(st.typeUrl) && subscribe.length === 0) wildcard = true;
    const added: string[] = [];
    for (const n of subscribe) {
      if (n === "*") {
        wildcard = true;
        continue;
      }
      // Asking again for a name already subscribed means the client wants it resent.
      if (st.names.has(n)) {
        st.force ??= new Set();
        st.force.add(n);
      } else st.names.add(n);
      added.push(n);
    }
    for (const n of unsubscribe) {
      if (n === "*") {
        wildcard = false;
        continue;
      }
      st.names.delete(n);
      st.force?.delete(n);
      st.reportedAbsent?.delete(n);
      if (!wildcard) {
        st.clientHas.delete(n);
        this.forgetName(st, n);
      }
    }
    if (!wildcard && st.wildcard) {
      for (const n of [...st.clientHas.keys()]) {
        if (!st.names.has(n)) {
          st.clientHas.delete(n);
          this.forgetName(st, n);
        }
      }
    }
    const turnedOn = wildcard && !st.wildcard;
    const changed = first || wildcard !== st.wildcard || subscribe.length > 0 || unsubscribe.length > 0;
    st.wildcard = wildcard;
    // A plain ACK changes no subscription: no re-index, no pump.
    if (changed) this.updateInterest(st, added, turnedOn);
  }

  /** Counts what a request would leave subscribed ((names ∪ subscribe) ∖ unsubscribe) before applying it. */
  private reserveChange(
    st: DeltaTypeState,
    subscribe: readonly string[],
    unsubscribe: readonly string[],
  ): void {
    if (subscribe.length === 0 && unsubscribe.length === 0) return;
    const unsub = unsubscribe.length > 0 ? new Set(unsubscribe) : undefined;
    const seen = subscribe.length > 1 ? new Set<string>() : undefined;
    let count = 0;
    let bytes = 0;
    for (const n of subscribe) {
      if (n === "*" || st.names.has(n) || unsub?.has(n)) continue;
      if (seen) {
        if (seen.has(n)) continue;
        seen.add(n);
      }
      count++;
      bytes += Buffer.byteLength(n);
    }
    for (const n of unsub ?? []) {
      if (n !== "*" && st.names.has(n)) {
        count--;
        bytes -= Buffer.byteLength(n);
      }
    }
    this.reserveNames(count, bytes);
  }

  protected build(st: DeltaTypeState, phase: Phase): Buffer | undefined {
    if (phase === "upsert") {
      const out: EncodedResource[] = [];
      for (const n of pendingNames(st)) {
        if (!this.subscribed(st, n)) continue;
        const e = this.lookup(st.typeUrl, n, this.variantKey);
        if (!e || st.rejected?.get(n) === e.version) continue;
        if (st.force?.has(n) !== true && st.clientHas.get(n) === e.version) continue;
        out.push(e);
      }
      if (out.length === 0) return undefined;
      const sent = this.unanswered(st);
      for (const e of out) {
        st.clientHas.set(e.name, e.version);
        st.force?.delete(e.name);
        st.reportedAbsent?.delete(e.name);
        deletePending(st, e.name);
        sent.set(e.name, e.version);
      }
      return this.emit(st, out, []);
    }
    const removed: string[] = [];
    for (const n of pendingNames(st)) {
      if (this.lookup(st.typeUrl, n) !== undefined) continue;
      if (st.clientHas.has(n)) {
        removed.push(n);
      } else if (st.names.has(n) && st.reportedAbsent?.has(n) !== true) {
        // Tells the client the name does not exist (yet) instead of letting it time out.
        removed.push(n);
      }
    }
    if (removed.length === 0) return undefined;
    const sent = this.unanswered(st);
    for (const n of removed) {
      st.clientHas.delete(n);
      if (st.names.has(n)) {
        st.reportedAbsent ??= new Set();
        st.reportedAbsent.add(n);
      }
      deletePending(st, n);
      sent.set(n, "");
    }
    return this.emit(st, [], removed);
  }

  private emit(st: DeltaTypeState, resources: EncodedResource[], removed: string[]): Buffer {
    const nonce = this.nextNonce();
    st.nonce = nonce;
    if (this.ctx.logger.isLevelEnabled("debug")) {
      this.ctx.logger.debug(
        {
          typeUrl: typeLabel(st.typeUrl),
          n: resources.length,
          removed: removed.length,
          nonce,
          node: clipClientText(this.node?.id ?? "", 256),
        },
        "delta push",
      );
    }
    const only = resources.length === 1 && removed.length === 0 ? resources[0] : undefined;
    const gen = this.ctx.store.generation;
    const found = only === undefined ? undefined : this.ctx.shared.findOne(gen, "delta", only, "", nonce);
    if (found !== undefined) return found;
    return this.assemble(st.typeUrl, nonce, resources, removed, only);
  }

  /** The response no other stream has assembled yet; apart from `emit`, as in sotw-stream.ts. */
  private assemble(
    typeUrl: string,
    nonce: string,
    resources: EncodedResource[],
    removed: string[],
    only: EncodedResource | undefined,
  ): Buffer {
    const gen = this.ctx.store.generation;
    const key = () =>
      `d\0${typeUrl}\0${nonce}\0${resources.map((e) => `${e.name}\0${e.version}`).join("\0")}\0\0${removed.join("\0")}`;
    const build = () => encodeDeltaResponse({ typeUrl, nonce, resources, removed });
    if (only !== undefined) return this.ctx.shared.getOne(gen, "delta", only, "", nonce, key, build);
    return this.ctx.shared.get(gen, key(), build);
  }
}
