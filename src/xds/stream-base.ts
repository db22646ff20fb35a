/**
 * What SotW and Delta streams share: node identity from the first request, the store watch, the
 * backpressured writer, nonces, and the push order (upserts CDS → EDS → LDS → RDS, then removals).
 * Subclasses decide what a request means and what the next response for one type is.
 */
import type { ServerDuplexStream } from "@grpc/grpc-js";
import { status } from "@grpc/grpc-js";
import type { Logger } from "pino";
import type { Node } from "../gen/envoy/config/core/v3/base_pb.js";
import { XdsError } from "./errors.js";
import type { XdsMetrics } from "./metrics.js";
import { type NodeInfo, nodeInfoOf } from "./node-info.js";
import type { ResourceChange, ResourceStore, StoreWatch } from "./resource-store.js";
import type { SharedResponses } from "./shared-responses.js";
import { StreamWriter } from "./stream-writer.js";
import { PUSH_ORDER } from "./type-urls.js";

export interface StreamLimits {
  /** Most names one stream may subscribe to per type. */
  maxNamesPerType: number;
}

export interface StreamContext {
  store: ResourceStore;
  logger: Logger;
  metrics: XdsMetrics;
  now: () => number;
  limits: StreamLimits;
  variantKeyOf: (node: NodeInfo | undefined) => string | undefined;
  /** Type of a per-type service (EDS, CDS, ...); undefined for ADS. */
  fixedTypeUrl: string | undefined;
  /** Label for metrics and logs, e.g. "ads-sotw", "eds-delta". */
  kind: string;
  onClose: (s: XdsStreamBase<TypeStateBase, unknown>) => void;
  /** Assembled responses shared by streams that send identical bytes. */
  shared: SharedResponses;
}

export interface TypeStateBase {
  typeUrl: string;
  /** Explicitly subscribed names. */
  names: Set<string>;
  wildcard: boolean;
  /** Names that may need a push since the last quiet point. */
  pending: Set<string>;
  /** Names to send even if the client has this version (newly requested, Cluster changed). */
  force: Set<string>;
  /** Versions the client NACKed: never sent again until the content changes. */
  rejected: Map<string, string>;
  /** Nonce of the latest response of this type. */
  nonce: string;
  /** Earliest change not yet pushed, for the latency metric. */
  since: number | undefined;
}

export type Phase = "upsert" | "removal";

export abstract class XdsStreamBase<S extends TypeStateBase, Req> {
  node: NodeInfo | undefined;
  variantKey: string | undefined;
  protected readonly states = new Map<string, S>();
  protected readonly watch: StoreWatch;
  protected readonly writer: StreamWriter;
  private nonceGen = -1;
  private nonceSeq = 0;
  private closed = false;

  constructor(
    protected readonly ctx: StreamContext,
    protected readonly call: ServerDuplexStream<Req, Buffer>,
  ) {
    this.watch = ctx.store.watch((changes) => this.onStoreChange(changes));
    this.writer = new StreamWriter(
      call,
      () => this.produce(),
      (e) => this.fail(e),
    );
    ctx.metrics.streamOpened(ctx.kind);
    call.on("data", (req: Req) => {
      try {
        this.handle(req);
      } catch (e) {
        this.fail(e);
      }
    });
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

  get isClosed(): boolean {
    return this.closed;
  }

  protected abstract handle(req: Req): void;
  /** Next response for `st` in this phase, or undefined if it has nothing of that kind pending. */
  protected abstract build(st: S, phase: Phase): Buffer | undefined;

  protected setNode(node: Node | undefined): void {
    if (this.node !== undefined || node === undefined) return;
    this.node = nodeInfoOf(node);
    this.variantKey = this.ctx.variantKeyOf(this.node);
    this.ctx.logger.debug(
      { node: this.node?.id, zone: this.variantKey, kind: this.ctx.kind },
      "xds stream identified",
    );
  }

  /** Creates the per-type state of this protocol variant the first time a type is requested. */
  protected abstract newState(typeUrl: string): S;

  /**
   * The common start of every request: remember the node, check the type, find or create its state.
   * Undefined (after a warning) for a type this stream does not serve.
   */
  protected stateForRequest(
    node: Node | undefined,
    requestedTypeUrl: string,
  ): { st: S; typeUrl: string; first: boolean } | undefined {
    this.setNode(node);
    const typeUrl = this.resolveTypeUrl(requestedTypeUrl);
    if (typeUrl === undefined) {
      this.ctx.logger.warn(
        { typeUrl: requestedTypeUrl, kind: this.ctx.kind, node: this.node?.id },
        "xds request for an unsupported type",
      );
      return undefined;
    }
    let st = this.states.get(typeUrl);
    const first = st === undefined;
    if (!st) {
      st = this.newState(typeUrl);
      this.states.set(typeUrl, st);
    }
    return { st, typeUrl, first };
  }

  protected resolveTypeUrl(requested: string): string | undefined {
    const t = this.ctx.fixedTypeUrl ?? requested;
    if (this.ctx.fixedTypeUrl && requested !== "" && requested !== this.ctx.fixedTypeUrl) return undefined;
    return PUSH_ORDER.includes(t as (typeof PUSH_ORDER)[number]) ? t : undefined;
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
    return `${gen.toString(36)}.${(this.nonceSeq++).toString(36)}`;
  }

  protected subscribed(st: S, name: string): boolean {
    return st.wildcard || st.names.has(name);
  }

  /** Re-registers interest with the store and queues every name that may now need a push. */
  protected updateInterest(st: S, added: Iterable<string>, wildcardTurnedOn: boolean): void {
    if (st.names.size > this.ctx.limits.maxNamesPerType) {
      throw new XdsError(
        "ERR_XDS_LIMIT",
        `more than ${this.ctx.limits.maxNamesPerType} names of ${st.typeUrl}`,
      );
    }
    this.watch.setInterest(st.typeUrl, st.names, st.wildcard);
    for (const n of added) st.pending.add(n);
    if (wildcardTurnedOn) for (const n of this.ctx.store.names(st.typeUrl)) st.pending.add(n);
    st.since ??= this.ctx.now();
    this.writer.kick();
  }

  protected kick(): void {
    this.writer.kick();
  }

  private onStoreChange(changes: ResourceChange[]): void {
    for (const c of changes) {
      const st = this.states.get(c.typeUrl);
      if (!st) continue;
      st.pending.add(c.name);
      if (c.force) st.force.add(c.name);
      if (st.since === undefined || c.at < st.since) st.since = c.at;
    }
    this.writer.kick();
  }

  private produce(): Buffer | undefined {
    for (const phase of ["upsert", "removal"] as const) {
      for (const t of PUSH_ORDER) {
        const st = this.states.get(t);
        if (!st || !this.isDirty(st)) continue;
        const buf = this.build(st, phase);
        if (buf) {
          const now = this.ctx.now();
          this.ctx.metrics.pushed(t, buf.length, Math.max(0, now - (st.since ?? now)));
          return buf;
        }
      }
    }
    for (const st of this.states.values()) this.settle(st);
    return undefined;
  }

  /** Hook for subclasses with extra dirty reasons (e.g. an initial empty wildcard response). */
  protected isDirty(st: S): boolean {
    return st.pending.size > 0;
  }

  protected settle(st: S): void {
    st.pending.clear();
    st.force.clear();
    st.since = undefined;
  }

  protected fail(e: unknown): void {
    const err = e as Error & { code?: string };
    this.ctx.logger.warn({ err, kind: this.ctx.kind, node: this.node?.id }, "xds stream failed");
    this.endWith(err.code === "ERR_XDS_LIMIT" ? status.RESOURCE_EXHAUSTED : status.INTERNAL, err.message);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.watch.close();
    this.writer.close();
    this.ctx.metrics.streamClosed(this.ctx.kind);
    this.ctx.onClose(this as unknown as XdsStreamBase<TypeStateBase, unknown>);
  }
}

function emitStatus(call: ServerDuplexStream<unknown, Buffer>, code: status, details: string): void {
  // grpc-js turns an 'error' event carrying {code, details} into the call's final status.
  call.emit("error", { code, details });
}

/** Stable digest of a name → version map, for SotW `version_info`. */
export function versionsDigest(known: ReadonlyMap<string, string>, hash: (s: string) => string): string {
  // One resource (the common EDS case): its own content hash already identifies the state.
  if (known.size === 1) for (const v of known.values()) return v;
  const parts = [...known.entries()].map(([n, v]) => `${n}=${v}`).sort();
  return hash(parts.join("\n"));
}
