/**
 * Reads DiscoveryRequest / DeltaDiscoveryRequest wire bytes without building the message. grpc-js calls
 * the scan as the method's `requestDeserialize`, so a request's per-request limits (names counted with
 * duplicates, name length, well-formed wire format) are checked before any name becomes a string or a
 * set entry. The result keeps offsets into the message and decodes on demand: the type URL and nonce at
 * once (every request needs them), names when the stream applies them, and `node` only when the stream
 * asks, which it does for its first request alone. So an ACK costs one pass over its bytes, a few short
 * strings and its names, never the node (often kilobytes of metadata) again.
 *
 * Field numbers: envoy/service/discovery/v3/discovery.proto, google/rpc/status.proto.
 */
import { fromBinary, mergeFromBinary } from "@bufbuild/protobuf";
import { type Node, NodeSchema } from "../gen/envoy/config/core/v3/base_pb.js";
import { XdsError } from "./errors.js";
import { LimitError } from "./limits.js";
import { PUSH_ORDER } from "./type-urls.js";

export interface ScanLimits {
  maxNamesPerRequest: number;
  maxNameBytes: number;
}

export type RequestKind = "sotw" | "delta";

/** Longest nonce or type URL decoded; ours are far shorter, so a longer one can never match. */
const MAX_SHORT_FIELD = 256;
/** A nonce we never issue: stands for one too long to be ours. */
const FOREIGN_NONCE = "\u0000";

const LEN = 2;

// DiscoveryRequest (version_info = 1 and resource_locators = 7 are not used)
const S_NODE = 2;
const S_NAMES = 3;
const S_TYPE = 4;
const S_NONCE = 5;
const S_ERROR = 6;
const S_LAST_KNOWN = 7;
// DeltaDiscoveryRequest
const D_NODE = 1;
const D_TYPE = 2;
const D_SUBSCRIBE = 3;
const D_UNSUBSCRIBE = 4;
const D_INITIAL = 5;
const D_NONCE = 6;
const D_ERROR = 7;
const D_LAST_KNOWN = 9;
// google.rpc.Status
const STATUS_MESSAGE = 2;

/** The type URLs we serve, as bytes: a request naming one gets our constant string, not a copy. */
const KNOWN_TYPES = PUSH_ORDER.map((t) => ({ url: t, bytes: Buffer.from(t) }));

function malformed(what: string, at: number): XdsError {
  return new XdsError("ERR_XDS_BAD_REQUEST", `malformed request: ${what} at byte ${at}`);
}

/** A cursor over protobuf wire bytes; every read is bounds-checked. */
class Cursor {
  /** Field number and wire type of the last tag read. */
  field = 0;
  wire = 0;

  constructor(
    readonly buf: Buffer,
    public pos: number,
    readonly end: number,
  ) {}

  varint(): number {
    let value = 0;
    let scale = 1;
    for (let i = 0; i < 10; i++) {
      if (this.pos >= this.end) throw malformed("truncated varint", this.pos);
      const byte = this.buf[this.pos++] as number;
      value += (byte & 0x7f) * scale;
      if (byte < 0x80) return value;
      scale *= 128;
    }
    throw malformed("varint longer than 10 bytes", this.pos);
  }

  /** Reads one tag into `field` and `wire` (no allocation: this runs for every field of every ACK). */
  tag(): void {
    const at = this.pos;
    const tag = this.varint();
    this.field = Math.floor(tag / 8);
    this.wire = tag % 8;
    if (this.field === 0) throw malformed("field number 0", at);
  }

  /** Reads a length prefix and returns the start of the payload; `pos` moves past it. */
  lenField(): number {
    const n = this.varint();
    if (n > this.end - this.pos) throw malformed("length past the end of the message", this.pos);
    const start = this.pos;
    this.pos += n;
    return start;
  }

  skip(wire: number): void {
    switch (wire) {
      case 0:
        this.varint();
        return;
      case 1:
        this.advance(8);
        return;
      case LEN:
        this.lenField();
        return;
      case 5:
        this.advance(4);
        return;
      default:
        // Groups (3, 4) are proto2-only and no xDS message has one.
        throw malformed(`wire type ${wire}`, this.pos);
    }
  }

  private advance(n: number): void {
    if (n > this.end - this.pos) throw malformed("fixed-size field past the end", this.pos);
    this.pos += n;
  }
}

/**
 * One request as scanned. `problem` is set when a per-request limit was hit or the bytes are not a
 * valid message; nothing else is meaningful then.
 */
export class XdsRequest {
  typeUrl = "";
  responseNonce = "";
  hasErrorDetail = false;
  /** Names in the request, duplicates included (Delta: subscribe + unsubscribe + initial versions). */
  nameCount = 0;
  problem: XdsError | undefined;

  private nodeStart = -1;
  private nodeEnd = -1;
  /** Further `node` occurrences (merged, as protobuf does); almost always undefined. */
  private moreNodes: Array<[number, number]> | undefined;
  private errorStart = -1;
  private errorEnd = -1;
  /** Offsets of the first tag and the end of the last name field, so decoding skips the rest. */
  private namesFrom = -1;
  private namesTo = -1;

  constructor(
    readonly kind: RequestKind,
    private readonly buf: Buffer,
  ) {}

  get hasNode(): boolean {
    return this.nodeStart >= 0;
  }

  /** Decodes `node`; streams call this for their first request only. */
  node(): Node | undefined {
    if (this.nodeStart < 0) return undefined;
    const node = fromBinary(NodeSchema, this.buf.subarray(this.nodeStart, this.nodeEnd));
    for (const [s, e] of this.moreNodes ?? []) mergeFromBinary(NodeSchema, node, this.buf.subarray(s, e));
    return node;
  }

  /** error_detail.message, at most `maxBytes` of it decoded. */
  errorMessage(maxBytes = 4096): string {
    if (this.errorStart < 0) return "";
    const end = Math.min(this.errorEnd, this.errorStart + maxBytes);
    const text = this.buf.toString("utf8", this.errorStart, end);
    return end < this.errorEnd ? `${text}… (${this.errorEnd - this.errorStart} bytes)` : text;
  }

  /** SotW `resource_names`, in order, duplicates kept. */
  resourceNames(): string[] {
    return this.strings(S_NAMES);
  }

  /**
   * The bytes from the first name field to the end of the last (fields between them included), one
   * character per byte: what `sameNamesAs` compares a later request with. A string rather than a byte
   * array because it is one object with its bytes inside (a stream keeps one; each ACK reads it).
   */
  namesWire(): string {
    return this.namesFrom < 0 ? "" : this.buf.toString("latin1", this.namesFrom, this.namesTo);
  }

  /**
   * True when this request's names are, byte for byte, `wire` (another request's `namesWire()`): then
   * both decode to the same names in the same order, and nothing needs decoding. A client repeats its
   * names in every ACK, so this is how an ACK is told to change nothing.
   */
  sameNamesAs(wire: string): boolean {
    const from = this.namesFrom;
    if (from < 0) return wire.length === 0;
    const n = this.namesTo - from;
    if (n !== wire.length) return false;
    const buf = this.buf;
    for (let i = 0; i < n; i++) if (buf[from + i] !== wire.charCodeAt(i)) return false;
    return true;
  }

  /** Delta `resource_names_subscribe`. */
  subscribe(): string[] {
    return this.strings(D_SUBSCRIBE);
  }

  /** Delta `resource_names_unsubscribe`. */
  unsubscribe(): string[] {
    return this.strings(D_UNSUBSCRIBE);
  }

  /** Delta `initial_resource_versions` (a later entry for the same name wins, as in a proto map). */
  initialVersions(): Map<string, string> {
    const out = new Map<string, string>();
    if (this.namesFrom < 0) return out;
    const c = new Cursor(this.buf, this.namesFrom, this.namesTo);
    while (c.pos < c.end) {
      c.tag();
      const { field, wire } = c;
      if (field !== D_INITIAL || wire !== LEN) {
        c.skip(wire);
        continue;
      }
      const start = c.lenField();
      const e = new Cursor(this.buf, start, c.pos);
      let key = "";
      let value = "";
      while (e.pos < e.end) {
        e.tag();
        if (e.wire !== LEN || (e.field !== 1 && e.field !== 2)) {
          e.skip(e.wire);
          continue;
        }
        const isKey = e.field === 1;
        const s = e.lenField();
        const text = this.buf.toString("utf8", s, e.pos);
        if (isKey) key = text;
        else value = text;
      }
      out.set(key, value);
    }
    return out;
  }

  private strings(wanted: number): string[] {
    const out: string[] = [];
    if (this.namesFrom < 0) return out;
    const c = new Cursor(this.buf, this.namesFrom, this.namesTo);
    while (c.pos < c.end) {
      c.tag();
      const { field, wire } = c;
      if (field === wanted && wire === LEN) {
        const s = c.lenField();
        out.push(this.buf.toString("utf8", s, c.pos));
      } else {
        c.skip(wire);
      }
    }
    return out;
  }

  /** @internal */
  scan(limits: ScanLimits): this {
    try {
      if (this.kind === "sotw") this.scanSotw(limits);
      else this.scanDelta(limits);
    } catch (e) {
      if (!(e instanceof XdsError)) throw e;
      this.problem = e;
    }
    return this;
  }

  private scanSotw(limits: ScanLimits): void {
    const c = new Cursor(this.buf, 0, this.buf.length);
    while (c.pos < c.end) {
      const tagAt = c.pos;
      c.tag();
      const { field, wire } = c;
      if (field > S_LAST_KNOWN) {
        c.skip(wire);
        continue;
      }
      if (wire !== LEN) throw malformed(`field ${field} with wire type ${wire}`, tagAt);
      const start = c.lenField();
      switch (field) {
        case S_NAMES:
          this.countName(limits, c.pos - start, tagAt);
          this.noteName(tagAt, c.pos);
          break;
        case S_NODE:
          this.noteNode(start, c.pos);
          break;
        case S_TYPE:
          this.typeUrl = this.typeUrlAt(start, c.pos);
          break;
        case S_NONCE:
          this.responseNonce = c.pos - start > MAX_SHORT_FIELD ? FOREIGN_NONCE : this.short(start, c.pos);
          break;
        case S_ERROR:
          this.noteError(start, c.pos);
          break;
        default:
          break;
      }
    }
  }

  private scanDelta(limits: ScanLimits): void {
    const c = new Cursor(this.buf, 0, this.buf.length);
    while (c.pos < c.end) {
      const tagAt = c.pos;
      c.tag();
      const { field, wire } = c;
      if (field > D_LAST_KNOWN) {
        c.skip(wire);
        continue;
      }
      if (wire !== LEN) throw malformed(`field ${field} with wire type ${wire}`, tagAt);
      const start = c.lenField();
      switch (field) {
        case D_SUBSCRIBE:
        case D_UNSUBSCRIBE:
          this.countName(limits, c.pos - start, tagAt);
          this.noteName(tagAt, c.pos);
          break;
        case D_INITIAL:
          this.scanInitialVersion(limits, start, c.pos, tagAt);
          this.noteName(tagAt, c.pos);
          break;
        case D_NODE:
          this.noteNode(start, c.pos);
          break;
        case D_TYPE:
          this.typeUrl = this.typeUrlAt(start, c.pos);
          break;
        case D_NONCE:
          this.responseNonce = c.pos - start > MAX_SHORT_FIELD ? FOREIGN_NONCE : this.short(start, c.pos);
          break;
        case D_ERROR:
          this.noteError(start, c.pos);
          break;
        // resource_locators_(un)subscribe are not used.
        default:
          break;
      }
    }
  }

  private scanInitialVersion(limits: ScanLimits, start: number, end: number, tagAt: number): void {
    this.countName(limits, 0, tagAt);
    const e = new Cursor(this.buf, start, end);
    while (e.pos < e.end) {
      const at = e.pos;
      e.tag();
      const { field, wire } = e;
      if (field > 2) {
        e.skip(wire);
        continue;
      }
      if (wire !== LEN) throw malformed(`map entry field ${field} with wire type ${wire}`, at);
      const s = e.lenField();
      if (e.pos - s > limits.maxNameBytes) {
        throw new LimitError(
          "maxNameBytes",
          `an initial_resource_versions ${field === 1 ? "name" : "version"} of ${e.pos - s} bytes is longer than ${limits.maxNameBytes}`,
        );
      }
    }
  }

  private countName(limits: ScanLimits, bytes: number, at: number): void {
    if (++this.nameCount > limits.maxNamesPerRequest) {
      throw new LimitError(
        "maxNamesPerRequest",
        `request names more than ${limits.maxNamesPerRequest} resources (counted with duplicates, stopped at byte ${at})`,
      );
    }
    if (bytes > limits.maxNameBytes) {
      throw new LimitError(
        "maxNameBytes",
        `a resource name of ${bytes} bytes is longer than ${limits.maxNameBytes}`,
      );
    }
  }

  private noteName(tagAt: number, end: number): void {
    if (this.namesFrom < 0) this.namesFrom = tagAt;
    this.namesTo = end;
  }

  private noteNode(start: number, end: number): void {
    if (this.nodeStart < 0) {
      this.nodeStart = start;
      this.nodeEnd = end;
    } else {
      this.moreNodes ??= [];
      this.moreNodes.push([start, end]);
    }
  }

  /** Finds `message` inside a google.rpc.Status; the last occurrence wins, as protobuf merges. */
  private noteError(start: number, end: number): void {
    this.hasErrorDetail = true;
    const c = new Cursor(this.buf, start, end);
    while (c.pos < c.end) {
      c.tag();
      const { field, wire } = c;
      if (field === STATUS_MESSAGE && wire === LEN) {
        this.errorStart = c.lenField();
        this.errorEnd = c.pos;
      } else {
        c.skip(wire);
      }
    }
  }

  /**
   * The type URL: one of ours as our own constant string (every request of a stream names the same type,
   * and each map keyed by type then compares one string object with itself), any other decoded.
   */
  private typeUrlAt(start: number, end: number): string {
    const buf = this.buf;
    for (const k of KNOWN_TYPES) {
      const b = k.bytes;
      if (b.length !== end - start) continue;
      // From the end: the shared "type.googleapis.com/envoy.config." prefix tells nothing apart.
      let i = b.length - 1;
      while (i >= 0 && b[i] === buf[start + i]) i--;
      if (i < 0) return k.url;
    }
    return this.short(start, end);
  }

  private short(start: number, end: number): string {
    return this.buf.toString("utf8", start, Math.min(end, start + MAX_SHORT_FIELD));
  }
}

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

/** Scans a DiscoveryRequest; never throws (problems land in `problem`). */
export function scanSotwRequest(bytes: Uint8Array, limits: ScanLimits): XdsRequest {
  return new XdsRequest("sotw", asBuffer(bytes)).scan(limits);
}

/** Scans a DeltaDiscoveryRequest; never throws (problems land in `problem`). */
export function scanDeltaRequest(bytes: Uint8Array, limits: ScanLimits): XdsRequest {
  return new XdsRequest("delta", asBuffer(bytes)).scan(limits);
}
