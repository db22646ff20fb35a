/**
 * What SotW and Delta streams share: node identity from the first request, the store watch, the
 * backpressured writer, nonces, the push order (upserts CDS → EDS → LDS → RDS, then removals), and the
 * per-stream limits: every request passes the rate limit before it is applied, and the names it adds
 * are counted against the stream's and the server's budgets before any set grows.
 * Subclasses decide what a request means and what the next response for one type is.
 */
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Node } from "../gen/envoy/config/core/v3/base_pb.js";
import { type CallIdentity, DeniedError, type StreamAccess, type XdsAuthorization } from "./authorization.js";
import { type ClientTextLog, clipClientText } from "./client-text-log.js";
import { type ConvergenceTracker, StreamConvergence } from "./convergence-tracker.js";
import type { EncodedResource } from "./encoded-resource.js";
import { XdsError } from "./errors.js";
import { LimitError, type XdsLimits } from "./limits.js";
import type { XdsMetrics } from "./metrics.js";
import { type NodeInfo, nodeInfoOf } from "./node-info.js";
import type { XdsRequest } from "./request-scanner.js";
import type { ResourceChange, ResourceStore, StoreWatch } from "./resource-store.js";
import type { SharedResponses } from "./shared-responses.js";
import type { AckedVersion, NackEvent, StreamStatusView } from "./stream-status.js";
import { ResponsePump } from "./stream-writer.js";
import { TokenBucket } from "./token-bucket.js";
import { PUSH_ORDER, typeLabel } from "./type-urls.js";

/** What every stream of one server shares and may change: name bytes held by all streams together. */
export interface SharedBudget {
  nameBytes: number;
}

export interface StreamContext {
  store: ResourceStore;
  logger: Logger;
  metrics: Required<XdsMetrics>;
  now: () => number;
  /** The server's limits; reloads change this object in place. */
  limits: XdsLimits;
  budget: SharedBudget;
  /** Warnings that quote client text: clipped and rate-limited. */
  clientLog: ClientTextLog;
  /** `address:port` of the client, for logs. */
  peer: string;
  /** What the client may do, when authorization is on (replaced when the rules change). */
  access: StreamAccess | undefined;
  variantKeyOf: (node: NodeInfo | undefined) => string | undefined;
  /** Type of a per-type service (EDS, CDS, ...); undefined for ADS. */
  fixedTypeUrl: string | undefined;
  /** Label for metrics and logs, e.g. "ads-sotw", "eds-delta". */
  kind: string;
  onClose: (s: XdsStreamBase<TypeStateBase>) => void;
  /** Assembled responses shared by streams that send identical bytes. */
  shared: SharedResponses;
  /** Convergence time across streams (absent: not measured). */
  convergence?: ConvergenceTracker | undefined;
}

/**
 * A stream's state of one type: the fields every protocol's state starts with (a type's first request
 * creates it); each protocol's state extends it. A class, so its instances hold every field in the
 * object itself: spreading a base literal into a larger one built each state through a slow path (a
 * connect storm creates thousands per second).
 */
export class TypeStateBase {
  /**
   * The stream's next state in PUSH_ORDER: a stream's states are a list through themselves, so finding
   * or scanning them (on every push and ACK of a fan-out) touches no map or array of the stream.
   */
  next: TypeStateBase | undefined = undefined;
  /** Explicitly subscribed names. */
  names = new Set<string>();
  wildcard = false;
  /**
   * Names that may need a push since the last quiet point: none, the one name (a fan-out's case: one
   * resource changed), or a set of several in the order they came (never empty). The one name lives
   * in the state itself: a fan-out adds and takes it on a thousand streams, and a set would be two
   * more objects per stream to reach each time. Read and written through the functions below.
   */
  pending: string | Set<string> | undefined = undefined;
  /**
   * Names to send even if the client has this version (newly requested, Cluster changed). This,
   * `rejected` and `nacks` are empty on almost every stream almost always, so they exist only while
   * they hold something: a push or an ACK then reads a field of the state instead of three more
   * objects per stream (a fan-out touches a thousand streams' states, and each object is a cache miss).
   */
  force: Set<string> | undefined = undefined;
  /** Versions the client NACKed: never sent again until the content changes. */
  rejected: Map<string, string> | undefined = undefined;
  /**
   * name → version the client ACKed, and (for fleet status) when it first ACKed that version: one map,
   * so an ACK updates one entry in place instead of two maps.
   */
  acked = new Map<string, AckedVersion>();
  /** Fleet status (stream-status.ts): when the oldest unanswered response was sent ... */
  inflightSince: number | undefined = undefined;
  /** ... and the NACK behind each rejected version. */
  nacks: Map<string, NackEvent> | undefined = undefined;
  /** Nonce of the latest response of this type. */
  nonce = "";
  /** name → version of the latest response, until the client ACKs or NACKs it ("" = removal). */
  inflight: Map<string, string> | undefined = undefined;
  /** Responses of this type sent and not yet answered by a request carrying a nonce. */
  unanswered = 0;
  /** The last NACK of this type, until a later response is ACKed (for fleet status). */
  lastNack: { detail: string; at: number; nonce: string } | undefined = undefined;
  /** Earliest change not yet pushed, for the latency metric. */
  since: number | undefined = undefined;

  constructor(readonly typeUrl: string) {}
}

export function addPending(st: TypeStateBase, name: string): void {
  const p = st.pending;
  if (p === undefined) st.pending = name;
  else if (typeof p === "string") {
    if (p !== name) st.pending = new Set([p, name]);
  } else p.add(name);
}

export function deletePending(st: TypeStateBase, name: string): void {
  const p = st.pending;
  if (p === name) st.pending = undefined;
  else if (typeof p === "object") {
    p.delete(name);
    if (p.size === 0) st.pending = undefined;
  }
}

/** The pending names, in the order they came; a caller that deletes some does so after the loop. */
export function pendingNames(st: TypeStateBase): Iterable<string> {
  const p = st.pending;
  return p === undefined ? [] : typeof p === "string" ? [p] : p;
}

export type Phase = "upsert" | "removal";

export abstract class XdsStreamBase<S extends TypeStateBase> extends ResponsePump {
  node: NodeInfo | undefined;
  variantKey: string | undefined;
  /** Since when the stream has had no subscription (from its start); undefined while it has one. */
  idleSince: number | undefined;
  /** The states in the order their types were first requested (for status). */
  protected readonly states = new Map<string, S>();
  /** The same states in PUSH_ORDER, linked by `next`: what requests, store changes and pumps use. */
  private first: S | undefined;
  protected readonly watch: StoreWatch;
  private readonly bucket: TokenBucket;
  /** Distinct subscribed names, and their bytes plus Delta initial versions' (see reserveNames). */
  private nameCount = 0;
  private nameBytes = 0;
  readonly openedAt: number;
  private readonly convergence: StreamConvergence;
  private nonceGen = -1;
  private nonceSeq = 0;
  private closed = false;
  /**
   * Nothing left to send and every state settled (no pending names anywhere), as of the last response
   * built. Only a store change, a new interest or a kick can make a state dirty, and each clears this
   * (a request dirties a state only through updateInterest or kick: a plain ACK leaves it set); until
   * then the pump that follows each write's completion returns at once instead of scanning the states
   * again, and an ACK's in-step check reads no pending set.
   */
  private quiet = false;

  constructor(
    protected readonly ctx: StreamContext,
    protected readonly call: ServerDuplexStream<XdsRequest, Buffer>,
  ) {
    super(call);
    this.idleSince = ctx.now();
    this.bucket = new TokenBucket(ctx.limits.requestBurst, this.idleSince);
    this.openedAt = ctx.now();
    this.convergence = new StreamConvergence(ctx.convergence);
    this.watch = ctx.store.watch((changes) => this.onStoreChange(changes));
    ctx.metrics.streamOpened(ctx.kind);
    call.on("data", (req: XdsRequest) => this.onRequest(req));
    call.on("end", () => {
      this.close();
      call.end();
    });
    call.on("error", () => this.close());
    call.on("cancelled", () => this.close());
    call.on("close", () => this.close());
  }

  /** Ends the stream with a status (shutdown, limits). */
  endWith(code: status, details: string): void {
    if (this.closed) return;
    this.close();
    emitStatus(this.call, code, details);
  }

  get kind(): string {
    return this.ctx.kind;
  }

  /** `address:port` of the client's connection, as grpc-js' `call.getPeer()` writes it. */
  get peer(): string {
    return this.ctx.peer;
  }

  /** Who the stream was admitted as; undefined when authorization is off. */
  get identity(): CallIdentity | undefined {
    return this.ctx.access?.identity;
  }

  /**
   * Re-checks the stream against new rules (undefined = authorization off). A stream whose rights stay
   * the same carries on; one whose rights changed is ended with UNAVAILABLE so its client reconnects and
   * gets exactly what it may now see (SotW cannot take back an EDS or RDS resource in place); one that
   * is no longer allowed at all is ended with PERMISSION_DENIED.
   */
  reauthorize(auth: XdsAuthorization | undefined): void {
    const old = this.ctx.access;
    if (old === undefined && auth === undefined) return;
    if (old === undefined || auth === undefined) {
      this.endWith(status.UNAVAILABLE, "xds.authorization was turned on or off; reconnect");
      return;
    }
    try {
      const next = auth.admitPeer(old.peer);
      if (!next.sameRights(old)) {
        this.endWith(status.UNAVAILABLE, "xds.authorization changed for this client; reconnect");
        return;
      }
      this.ctx.access = next;
    } catch (e) {
      this.fail(e);
    }
  }

  get isClosed(): boolean {
    return this.closed;
  }

  /**
   * Applies one request. `typeUrl` is its type as this stream serves it (undefined: not served) and `st`
   * that type's state, if the stream has one yet: both found once per request by the base.
   */
  protected abstract handle(req: XdsRequest, typeUrl: string | undefined, st: S | undefined): void;
  /** Next response for `st` in this phase, or undefined if it has nothing of that kind pending. */
  protected abstract build(st: S, phase: Phase): Buffer | undefined;

  private onRequest(req: XdsRequest): void {
    if (this.closed) return;
    try {
      if (req.problem) throw req.problem;
      // Checked before the request is applied; answering our own response is never throttled, so a
      // client keeps up with any push rate.
      const typeUrl = this.resolveTypeUrl(req.typeUrl);
      const st = typeUrl === undefined ? undefined : this.stateOf(typeUrl);
      const l = this.ctx.limits;
      if (
        !this.answersInflight(req, st) &&
        !this.bucket.take(this.ctx.now(), l.requestsPerSecond, l.requestBurst)
      ) {
        throw new LimitError(
          "requestsPerSecond",
          `more than ${l.requestBurst} requests at once or ${l.requestsPerSecond} per second`,
        );
      }
      this.handle(req, typeUrl, st);
      if (this.convergence.waiting) this.checkInStep();
    } catch (e) {
      this.fail(e);
    }
  }

  /**
   * True when the request may answer one of our responses of its type that has not been answered yet.
   * Its nonce may already be stale (we pushed again meanwhile); either way a client gets one free
   * request per response we sent, so it can keep up with any push rate, and no more.
   */
  private answersInflight(req: XdsRequest, st: S | undefined): boolean {
    if (req.responseNonce === "" || st === undefined || st.unanswered === 0) return false;
    st.unanswered--;
    return true;
  }

  private hasSubscription(): boolean {
    for (let st = this.first; st !== undefined; st = st.next as S | undefined) {
      if (st.wildcard || st.names.size > 0) return true;
    }
    return false;
  }

  /** The state of `typeUrl` (one of ours: a PUSH_ORDER constant), if the stream has one. */
  private stateOf(typeUrl: string): S | undefined {
    for (let st = this.first; st !== undefined; st = st.next as S | undefined) {
      if (st.typeUrl === typeUrl) return st;
    }
    return undefined;
  }

  /**
   * Counts a change of the stream's names against its budgets before it is applied: `count` distinct
   * names and `bytes` of them (negative values release). Throws LimitError and changes nothing when the
   * stream, or the server as a whole, would go over.
   */
  protected reserveNames(count: number, bytes: number): void {
    const l = this.ctx.limits;
    if (count > 0 && this.nameCount + count > l.maxNamesPerStream) {
      throw new LimitError(
        "maxNamesPerStream",
        `the stream would watch ${this.nameCount + count} names, more than ${l.maxNamesPerStream}`,
      );
    }
    if (bytes > 0 && this.nameBytes + bytes > l.maxNameBytesPerStream) {
      throw new LimitError(
        "maxNameBytesPerStream",
        `the stream would hold ${this.nameBytes + bytes} bytes of names, more than ${l.maxNameBytesPerStream}`,
      );
    }
    if (bytes > 0 && this.ctx.budget.nameBytes + bytes > l.maxNameBytesTotal) {
      throw new LimitError(
        "maxNameBytesTotal",
        `the server's streams would hold more than ${l.maxNameBytesTotal} bytes of names`,
      );
    }
    this.nameCount += count;
    this.nameBytes += bytes;
    this.ctx.budget.nameBytes += bytes;
  }

  /**
   * The resource a client of this stream may receive under `name`, if any: a resource its
   * authorization rule does not cover is, for it, absent.
   */
  protected lookup(typeUrl: string, name: string, variantKey?: string): EncodedResource | undefined {
    const access = this.ctx.access;
    if (access !== undefined && !access.allowsResource(name)) return undefined;
    return this.ctx.store.getEncoded(typeUrl, name, variantKey);
  }

  /** Every name of a type a wildcard subscription of this stream covers (and may see). */
  protected wildcardNames(typeUrl: string): Iterable<string> {
    const all = this.ctx.store.names(typeUrl);
    const access = this.ctx.access;
    if (access === undefined) return all;
    return [...all].filter((n) => access.allowsResource(n));
  }

  protected onNackCommon(
    st: S,
    detail: string,
    refused: ReadonlyArray<{ name: string; version: string }> = [],
  ): void {
    st.lastNack = { detail, at: this.ctx.now(), nonce: st.nonce };
    this.ctx.metrics.nacked(st.typeUrl, detail, { node: this.node?.id ?? "", resources: refused });
    this.ctx.clientLog.warn(
      "nack",
      { type: typeLabel(st.typeUrl), node: this.node?.id, peer: this.ctx.peer, detail },
      "xds NACK",
    );
  }

  protected setNode(node: Node | undefined): void {
    if (this.node !== undefined || node === undefined) return;
    const info = nodeInfoOf(node);
    this.ctx.access?.checkNode(info);
    this.node = info;
    this.variantKey = this.ctx.variantKeyOf(this.node);
    this.ctx.logger.debug(
      { node: clipClientText(info?.id ?? "", 256), zone: this.variantKey, kind: this.ctx.kind },
      "xds stream identified",
    );
  }

  /** Creates the per-type state of this protocol variant the first time a type is requested. */
  protected abstract newState(typeUrl: string): S;

  /**
   * The common start of every request: remember the node, check the type, find or create its state
   * (`st`, when the base found one, is returned as it is). Undefined (after a warning) for a type this
   * stream does not serve.
   */
  protected stateForRequest(req: XdsRequest, typeUrl: string | undefined, st: S | undefined): S | undefined {
    // Only the first request must carry the node; later ones are never decoded for it.
    if (this.node === undefined) {
      if (req.hasNode) this.setNode(req.node());
      else if (this.ctx.access !== undefined) this.ctx.access.checkNode(undefined);
    }
    if (st !== undefined) return st;
    if (typeUrl === undefined) {
      this.ctx.clientLog.warn(
        "unsupported-type",
        { typeUrl: req.typeUrl, kind: this.ctx.kind, node: this.node?.id, peer: this.ctx.peer },
        "xds request for an unsupported type",
      );
      return undefined;
    }
    const created = this.newState(typeUrl);
    this.states.set(typeUrl, created);
    const rank = (t: string) => PUSH_ORDER.indexOf(t as (typeof PUSH_ORDER)[number]);
    if (this.first === undefined || rank(typeUrl) < rank(this.first.typeUrl)) {
      created.next = this.first;
      this.first = created;
    } else {
      let prev: S = this.first;
      while (prev.next !== undefined && rank(prev.next.typeUrl) < rank(typeUrl)) prev = prev.next as S;
      created.next = prev.next;
      prev.next = created;
    }
    return created;
  }

  protected resolveTypeUrl(requested: string): string | undefined {
    const t = this.ctx.fixedTypeUrl ?? requested;
    if (this.ctx.fixedTypeUrl && requested !== "" && requested !== this.ctx.fixedTypeUrl) return undefined;
    // The known constant, not the request's own copy of it: every map keyed by type then compares
    // one string object with itself.
    const i = PUSH_ORDER.indexOf(t as (typeof PUSH_ORDER)[number]);
    return i < 0 ? undefined : PUSH_ORDER[i];
  }

  /**
   * Nonces are `<store generation>.<n-th response of this stream in that generation>`: unique per stream
   * (generations only grow), and equal across streams that get the same content in the same generation,
   * which lets them share one assembled response (see SharedResponses).
   */
  protected nextNonce(): string {
    const gen = this.ctx.store.generation;
    if (gen !== this.nonceGen) {
      this.nonceGen = gen;
      this.nonceSeq = 0;
    }
    return nonceOf(gen, this.nonceSeq++);
  }

  /**
   * Where a response's name → version entries go until the client answers it: what is still unanswered
   * of this type (a response adds to it), or a new map.
   */
  protected unanswered(st: S): Map<string, string> {
    if (st.inflight === undefined) st.inflight = new Map();
    return st.inflight;
  }

  protected subscribed(st: S, name: string): boolean {
    return st.wildcard || st.names.has(name);
  }

  /** Re-registers the type's interest with the store once its names or wildcard changed. */
  protected setInterest(st: S): void {
    this.watch.setInterest(st.typeUrl, st.names, st.wildcard);
    // Only here can the stream start or stop watching anything: a request that changes no names
    // (every ACK) leaves its idleness as it was.
    this.idleSince = this.hasSubscription() ? undefined : (this.idleSince ?? this.ctx.now());
  }

  /** Re-registers interest with the store and queues every name that may now need a push. */
  protected updateInterest(st: S, added: Iterable<string>, wildcardTurnedOn: boolean): void {
    this.setInterest(st);
    for (const n of added) addPending(st, n);
    if (wildcardTurnedOn) for (const n of this.wildcardNames(st.typeUrl)) addPending(st, n);
    st.since ??= this.ctx.now();
    this.quiet = false;
    this.schedulePump();
  }

  protected kick(): void {
    this.quiet = false;
    this.schedulePump();
  }

  private onStoreChange(changes: ResourceChange[]): void {
    let touched = false;
    for (const c of changes) {
      const st = this.stateOf(c.typeUrl);
      if (!st) continue;
      addPending(st, c.name);
      if (c.force) {
        st.force ??= new Set();
        st.force.add(c.name);
      }
      if (st.since === undefined || c.at < st.since) st.since = c.at;
      touched = true;
    }
    const first = changes[0];
    if (touched && first) this.convergence.joined(this.ctx.store.generation, first.at);
    this.quiet = false;
    this.schedulePump();
  }

  protected produce(): Buffer | undefined {
    if (this.quiet) return undefined;
    // Runs for every stream of a fan-out, a thousand at a time: plain loops over its own states.
    for (let p = 0; p < 2; p++) {
      const phase: Phase = p === 0 ? "upsert" : "removal";
      for (let st = this.first; st !== undefined; st = st.next as S | undefined) {
        if (!this.isDirty(st)) continue;
        const t = st.typeUrl;
        const answered = st.inflight === undefined;
        const buf = this.build(st, phase);
        if (buf) {
          if (buf.length > this.ctx.limits.maxResponseBytes) {
            throw new LimitError(
              "maxResponseBytes",
              `a ${typeLabel(t)} response of ${buf.length} bytes is larger than ${this.ctx.limits.maxResponseBytes}`,
            );
          }
          st.unanswered++;
          const now = this.ctx.now();
          if (answered) st.inflightSince = now;
          this.ctx.metrics.pushed(t, buf.length, Math.max(0, now - (st.since ?? now)));
          // The common push has nothing after it: settle now, and the pump after this write's
          // completion has nothing to scan.
          if (!this.anyDirty()) this.settleQuiet();
          return buf;
        }
      }
    }
    this.settleQuiet();
    if (this.convergence.waiting) this.checkInStep();
    return undefined;
  }

  protected onPumpError(err: unknown): void {
    this.fail(err);
  }

  private anyDirty(): boolean {
    for (let st = this.first; st !== undefined; st = st.next as S | undefined) {
      if (this.isDirty(st)) return true;
    }
    return false;
  }

  private settleQuiet(): void {
    for (let st = this.first; st !== undefined; st = st.next as S | undefined) this.settle(st);
    this.quiet = true;
  }

  /** In step: nothing sent unanswered and nothing left to send; the generations it joined converged. */
  private checkInStep(): void {
    for (let st = this.first; st !== undefined; st = st.next as S | undefined) {
      if (st.inflight !== undefined || (!this.quiet && st.pending !== undefined)) return;
    }
    this.convergence.leaveAll(true);
  }

  /**
   * Everything the client said of `name` (ACKed and NACKed versions, when), once it no longer
   * subscribes to it: a later subscription is a new one and is answered as the first was, and a
   * long-lived stream that moves across many names does not keep an entry for each it ever saw.
   */
  protected forgetName(st: S, name: string): void {
    st.acked.delete(name);
    st.rejected?.delete(name);
    st.nacks?.delete(name);
  }

  /** An ACK of `name` at `version`: what the client holds, and since when if the version is new. */
  protected noteAck(st: S, name: string, version: string, now: number): void {
    const held = st.acked.get(name);
    if (held === undefined) st.acked.set(name, { version, at: now });
    else if (held.version !== version) {
      held.version = version;
      held.at = now;
    }
    st.nacks?.delete(name);
  }

  /** Fleet-status bookkeeping of a NACK: which message refused which names; no convergence awaited. */
  protected noteNack(st: S, detail: string, refused: Iterable<string>): void {
    // The NACK onNackCommon just recorded (its detail as clipped there), shared by every refused name.
    const event: NackEvent = st.lastNack ?? { detail, at: this.ctx.now() };
    st.nacks ??= new Map();
    for (const n of refused) st.nacks.set(n, event);
    this.convergence.leaveAll(false);
  }

  /** A read-only view of this stream for fleet status (no copies of its maps). */
  status(): StreamStatusView {
    return {
      kind: this.ctx.kind,
      node: this.node,
      peer: this.ctx.peer,
      openedAt: this.openedAt,
      principal: this.identity?.principal,
      types: [...this.states.values()].map((st) => ({
        typeUrl: st.typeUrl,
        wildcard: st.wildcard,
        names: st.names,
        acked: st.acked,
        inflight: st.inflight,
        inflightSince: st.inflightSince,
        rejected: st.rejected ?? NO_VERSIONS,
        nacks: st.nacks ?? NO_NACKS,
        pendingSince: st.since,
      })),
      // What authorization lets this client see: a forbidden name is absent for it (NOT_SENT).
      current: (typeUrl, name): EncodedResource | undefined => this.lookup(typeUrl, name, this.variantKey),
      wildcardNames: (typeUrl) => this.wildcardNames(typeUrl),
    };
  }

  /** Hook for subclasses with extra dirty reasons (e.g. an initial empty wildcard response). */
  protected isDirty(st: S): boolean {
    return st.pending !== undefined;
  }

  protected settle(st: S): void {
    st.pending = undefined;
    st.force = undefined;
    st.since = undefined;
  }

  protected fail(e: unknown): void {
    if (this.closed) return;
    if (e instanceof LimitError) {
      this.ctx.metrics.limitExceeded(e.limit);
      this.ctx.clientLog.warn(
        "limit",
        { limit: e.limit, kind: this.ctx.kind, node: this.node?.id, peer: this.ctx.peer, reason: e.message },
        "xds stream over a limit",
      );
      this.endWith(e.grpcCode, e.message);
      return;
    }
    if (e instanceof DeniedError) {
      this.ctx.metrics.denied(e.reason);
      this.ctx.clientLog.warn(
        "denied",
        { reason: e.reason, kind: this.ctx.kind, peer: this.ctx.peer, principal: this.identity?.principal },
        e.message,
      );
      this.endWith(status.PERMISSION_DENIED, e.message);
      return;
    }
    if (e instanceof XdsError && e.code === "ERR_XDS_BAD_REQUEST") {
      this.ctx.clientLog.warn(
        "bad-request",
        { kind: this.ctx.kind, node: this.node?.id, peer: this.ctx.peer, reason: e.message },
        "xds stream sent a malformed request",
      );
      this.endWith(status.INVALID_ARGUMENT, e.message);
      return;
    }
    const err = e as Error;
    this.ctx.logger.warn(
      { err, kind: this.ctx.kind, node: clipClientText(this.node?.id ?? "", 256) },
      "xds stream failed",
    );
    this.endWith(status.INTERNAL, err.message);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ctx.budget.nameBytes -= this.nameBytes;
    this.nameBytes = 0;
    this.convergence.leaveAll(false);
    this.watch.close();
    this.closePump();
    this.ctx.metrics.streamClosed(this.ctx.kind);
    this.ctx.onClose(this as unknown as XdsStreamBase<TypeStateBase>);
  }
}

/** What status views show for a state that never held a rejected version or a NACK. */
const NO_VERSIONS: ReadonlyMap<string, string> = new Map();
const NO_NACKS: ReadonlyMap<string, NackEvent> = new Map();

/**
 * The nonce strings of the current generation, made once and shared by every stream (a fan-out asks a
 * thousand streams for the same "<gen>.0").
 */
let nonceGen = -1;
const nonces: string[] = [];
function nonceOf(gen: number, seq: number): string {
  if (gen !== nonceGen) {
    nonceGen = gen;
    nonces.length = 0;
  }
  let n = nonces[seq];
  if (n === undefined) {
    n = `${gen.toString(36)}.${seq.toString(36)}`;
    if (seq < 64) nonces[seq] = n;
  }
  return n;
}

function emitStatus(call: ServerDuplexStream<XdsRequest, Buffer>, code: status, details: string): void {
  // grpc-js turns an 'error' event carrying {code, details} into the call's final status.
  call.emit("error", { code, details });
}
