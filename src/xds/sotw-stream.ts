/**
 * One State-of-the-World xDS stream (ADS or a per-type service). Implements the SotW rules: per-type
 * version_info and per-stream nonces; ACK/NACK by error_detail; requests with a stale nonce are ignored;
 * newly requested names are sent even if unchanged; unknown names are remembered and pushed when they
 * appear; LDS/CDS responses carry the full set; NACKed content is never sent again until it changes.
 */
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { clipClientText } from "./client-text-log.js";
import type { EncodedResource } from "./encoded-resource.js";
import type { XdsRequest } from "./request-scanner.js";
import { encodeSotwResponse } from "./response-encoder.js";
import {
  deletePending,
  type Phase,
  pendingNames,
  type StreamContext,
  TypeStateBase,
  XdsStreamBase,
} from "./stream-base.js";
import { isFullStateType, typeLabel } from "./type-urls.js";
import { versionsDigest } from "./versions-digest.js";

class SotwTypeState extends TypeStateBase {
  readonly fullState: boolean;
  /** What we believe the client holds: acked plus the latest response, reverted on NACK. */
  known = new Map<string, string>();
  /** First request had no names: legacy wildcard, kept while later requests also name nothing. */
  legacyWildcard = false;
  /** A wildcard subscription must get a response even when the set is empty. */
  owesResponse = false;
  /**
   * The names field of the last request applied, as its bytes: a later request with the same bytes
   * (every ACK) would apply the same names again, which changes nothing. Undefined before the first.
   */
  namesWire: string | undefined = undefined;

  constructor(typeUrl: string) {
    super(typeUrl);
    this.fullState = isFullStateType(typeUrl);
  }
}

export class SotwStream extends XdsStreamBase<SotwTypeState> {
  constructor(ctx: StreamContext, call: ServerDuplexStream<XdsRequest, Buffer>) {
    super(ctx, call);
  }

  protected newState(typeUrl: string): SotwTypeState {
    return new SotwTypeState(typeUrl);
  }

  protected handle(req: XdsRequest, typeUrl: string | undefined, existing: SotwTypeState | undefined): void {
    const st = this.stateForRequest(req, typeUrl, existing);
    if (!st) return;
    const first = existing === undefined;
    // A first request may carry a nonce from a previous stream (client reconnected): treat it as initial.
    if (req.responseNonce !== "" && !first) {
      if (req.responseNonce !== st.nonce) {
        this.ctx.logger.debug(
          { typeUrl: st.typeUrl, nonce: req.responseNonce, current: st.nonce },
          "sotw: stale nonce ignored",
        );
        return;
      }
      if (req.hasErrorDetail) this.onNack(st, req.errorMessage());
      else this.onAck(st);
    }
    this.applyNames(st, req, first);
  }

  private onAck(st: SotwTypeState): void {
    const inflight = st.inflight;
    if (!inflight) return;
    const now = this.ctx.now();
    const rejected = st.rejected;
    // A full-state response replaces what the client holds: names it left out are no longer held.
    const before = st.acked;
    if (st.fullState) st.acked = new Map();
    for (const [n, v] of inflight) {
      if (st.fullState) {
        const held = before.get(n);
        st.acked.set(n, held !== undefined && held.version === v ? held : { version: v, at: now });
        st.nacks?.delete(n);
      } else this.noteAck(st, n, v, now);
      if (rejected !== undefined && rejected.get(n) === v) rejected.delete(n);
    }
    st.inflight = undefined;
    st.lastNack = undefined;
  }

  private onNack(st: SotwTypeState, detail: string): void {
    // The client keeps its last good versions; remember what it refused so it is not offered again.
    const refused: Array<{ name: string; version: string }> = [];
    for (const [n, v] of st.inflight ?? []) {
      if (st.acked.get(n)?.version !== v) refused.push({ name: n, version: v });
    }
    this.onNackCommon(st, detail, refused);
    if (!st.inflight) return;
    st.rejected ??= new Map();
    const rejected = st.rejected;
    for (const r of refused) rejected.set(r.name, r.version);
    this.noteNack(
      st,
      detail,
      refused.map((r) => r.name),
    );
    st.known = new Map();
    for (const [n, held] of st.acked) st.known.set(n, held.version);
    st.inflight = undefined;
  }

  private applyNames(st: SotwTypeState, req: XdsRequest, first: boolean): void {
    // A plain ACK (the request after every push) names what the type already has: nothing changes.
    // Applying a list of names twice in a row is the same as once, so the same bytes as the last
    // request are that without decoding a name.
    if (!first && st.namesWire !== undefined && req.sameNamesAs(st.namesWire)) return;
    const requested = req.resourceNames();
    if (!first && sameSubscription(st, requested)) {
      st.namesWire = req.namesWire();
      return;
    }
    const names = new Set(requested);
    const star = names.delete("*");
    const added: string[] = [];
    let addedBytes = 0;
    for (const n of names) {
      if (!st.names.has(n)) {
        added.push(n);
        addedBytes += Buffer.byteLength(n);
      }
    }
    let removedBytes = 0;
    if (names.size !== st.names.size + added.length) {
      for (const n of st.names) if (!names.has(n)) removedBytes += Buffer.byteLength(n);
    }
    // A SotW request replaces the type's names: count the new set before anything changes.
    this.reserveNames(names.size - st.names.size, addedBytes - removedBytes);
    if (first) st.legacyWildcard = st.fullState && requested.length === 0;
    const wildcard = st.fullState && (star || (st.legacyWildcard && requested.length === 0));
    if (added.length > 0) {
      st.force ??= new Set();
      for (const n of added) st.force.add(n);
    }
    for (const n of st.names) {
      if (!names.has(n) && !(wildcard && this.lookup(st.typeUrl, n))) {
        st.known.delete(n);
        this.forgetName(st, n);
      }
    }
    const turnedOn = wildcard && !st.wildcard;
    if (turnedOn) st.owesResponse = true;
    if (!wildcard && st.wildcard) {
      for (const n of st.known.keys()) {
        if (!names.has(n)) {
          st.known.delete(n);
          this.forgetName(st, n);
        }
      }
    }
    const shrunk = names.size !== st.names.size + added.length || wildcard !== st.wildcard;
    st.names = names;
    st.wildcard = wildcard;
    if (added.length > 0 || turnedOn) this.updateInterest(st, added, turnedOn);
    else if (shrunk) this.setInterest(st);
    st.namesWire = req.namesWire();
  }

  protected override isDirty(st: SotwTypeState): boolean {
    return st.pending !== undefined || st.owesResponse;
  }

  protected build(st: SotwTypeState, phase: Phase): Buffer | undefined {
    return st.fullState ? this.buildFull(st, phase) : this.buildPartial(st, phase);
  }

  /** EDS/RDS: only resources the client lacks; SotW cannot express their removal. */
  private buildPartial(st: SotwTypeState, phase: Phase): Buffer | undefined {
    if (phase !== "upsert") return undefined;
    const out: EncodedResource[] = [];
    for (const n of pendingNames(st)) {
      if (!this.subscribed(st, n)) continue;
      const e = this.lookup(st.typeUrl, n, this.variantKey);
      if (!e || !this.wanted(st, e)) continue;
      out.push(e);
    }
    if (out.length === 0) return undefined;
    for (const e of out) deletePending(st, e.name);
    return this.emit(st, out);
  }

  /** LDS/CDS: the full subscribed set whenever something in it changed or left. */
  private buildFull(st: SotwTypeState, phase: Phase): Buffer | undefined {
    const set = new Map<string, EncodedResource>();
    const add = (n: string) => {
      const e = this.lookup(st.typeUrl, n, this.variantKey);
      if (e) set.set(n, e);
    };
    if (st.wildcard) for (const n of this.wildcardNames(st.typeUrl)) add(n);
    for (const n of st.names) add(n);
    let changed = false;
    for (const n of pendingNames(st)) {
      const e = set.get(n);
      if (e && this.wanted(st, e)) {
        changed = true;
        break;
      }
    }
    let removed = false;
    for (const n of st.known.keys()) {
      if (!set.has(n)) {
        removed = true;
        break;
      }
    }
    const send = phase === "upsert" ? changed || (st.owesResponse && !removed) : removed || st.owesResponse;
    if (!send) return undefined;
    st.owesResponse = false;
    st.known = new Map();
    for (const n of set.keys()) deletePending(st, n);
    return this.emit(st, [...set.values()]);
  }

  private wanted(st: SotwTypeState, e: EncodedResource): boolean {
    if (st.rejected !== undefined && st.rejected.get(e.name) === e.version) return false;
    return st.force?.has(e.name) === true || st.known.get(e.name) !== e.version;
  }

  private emit(st: SotwTypeState, resources: EncodedResource[]): Buffer {
    // Full state: the response is the whole set. Partial: it adds to what is still unanswered.
    const sent = st.fullState ? new Map<string, string>() : this.unanswered(st);
    for (const e of resources) {
      st.known.set(e.name, e.version);
      st.force?.delete(e.name);
      sent.set(e.name, e.version);
    }
    st.inflight = sent;
    st.nonce = this.nextNonce();
    const versionInfo = versionsDigest(st.known);
    if (this.ctx.logger.isLevelEnabled("debug")) {
      this.ctx.logger.debug(
        {
          typeUrl: typeLabel(st.typeUrl),
          n: resources.length,
          nonce: st.nonce,
          node: clipClientText(this.node?.id ?? "", 256),
        },
        "sotw push",
      );
    }
    const only = resources.length === 1 ? resources[0] : undefined;
    if (only !== undefined) {
      const found = this.ctx.shared.findOne(this.ctx.store.generation, "sotw", only, versionInfo, st.nonce);
      if (found !== undefined) return found;
    }
    return this.assemble(st.typeUrl, versionInfo, st.nonce, resources, only);
  }

  /**
   * The response no other stream has assembled yet (in a fan-out, the first stream's). Apart from
   * `emit` so that the closures here, and the context they need, are made only on this path.
   */
  private assemble(
    typeUrl: string,
    versionInfo: string,
    nonce: string,
    resources: EncodedResource[],
    only: EncodedResource | undefined,
  ): Buffer {
    const build = () => encodeSotwResponse({ versionInfo, typeUrl, nonce, resources });
    const gen = this.ctx.store.generation;
    if (only !== undefined) {
      return this.ctx.shared.getOne(
        gen,
        "sotw",
        only,
        versionInfo,
        nonce,
        () => `s\0${typeUrl}\0${versionInfo}\0${nonce}\0${only.name}\0${only.version}`,
        build,
      );
    }
    let key = `s\0${typeUrl}\0${versionInfo}\0${nonce}`;
    for (const e of resources) key += `\0${e.name}\0${e.version}`;
    return this.ctx.shared.get(gen, key, build);
  }
}

/**
 * True when a request's names leave the type's subscription exactly as it is: the same names, or the
 * same wildcard ("*", or no names on a legacy wildcard). Checked before any set is built.
 */
function sameSubscription(st: SotwTypeState, requested: readonly string[]): boolean {
  if (st.wildcard) {
    if (st.names.size > 0) return false;
    return requested.length === 0 ? st.legacyWildcard : requested.length === 1 && requested[0] === "*";
  }
  if (requested.length === 0 || requested.length !== st.names.size) return false;
  for (const n of requested) if (!st.names.has(n)) return false;
  // Every requested name is held and there are as many: the same set unless one is repeated.
  return requested.length === 1 || new Set(requested).size === requested.length;
}
