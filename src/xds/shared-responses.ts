/**
 * A small cache of assembled response buffers shared by all streams of a server. On a fan-out (one CLA
 * changed, a thousand streams subscribed) every stream would otherwise concatenate the same bytes; with
 * nonces derived from the store generation their responses are byte-identical, so the first stream
 * assembles and the rest reuse it. Bounded in entries and bytes; emptied when the generation moves on.
 */

interface Entry {
  buf: Buffer;
  /** The one resource the response carries, when it was stored by `getOne`. */
  one: object | undefined;
}

/** The last response of one resource asked for by `getOne`, and what it was asked with. */
interface OneEntry {
  protocol: string;
  versionInfo: string;
  nonce: string;
  buf: Buffer;
}

export class SharedResponses {
  private gen = -1;
  private bytes = 0;
  private readonly entries = new Map<string, Entry>();
  /** Only responses still in `entries`: an eviction there drops the resource's entry here too. */
  private readonly byResource = new Map<object, OneEntry>();

  constructor(
    private readonly maxEntries = 256,
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  get(generation: number, key: string, build: () => Buffer, one?: object): Buffer {
    this.roll(generation);
    const hit = this.entries.get(key);
    if (hit) return hit.buf;
    const buf = build();
    if (buf.length <= this.maxBytes) {
      while (this.entries.size >= this.maxEntries || this.bytes + buf.length > this.maxBytes) {
        const oldest = this.entries.entries().next();
        if (oldest.done) break;
        this.entries.delete(oldest.value[0]);
        this.bytes -= oldest.value[1].buf.length;
        const gone = oldest.value[1];
        if (gone.one !== undefined && this.byResource.get(gone.one)?.buf === gone.buf) {
          this.byResource.delete(gone.one);
        }
      }
      this.entries.set(key, { buf, one });
      this.bytes += buf.length;
    }
    return buf;
  }

  /**
   * A response carrying the one resource `resource` (the store's object for one version), with this
   * `versionInfo` and `nonce`: found by the resource object and two string identities, without the key
   * string `get` needs. On a fan-out a thousand streams ask for the same response, and building and
   * hashing that key cost each of them more than the rest of the lookup. `key` is the response's key
   * for `get`, made only when this lookup misses.
   */
  getOne(
    generation: number,
    protocol: string,
    resource: object,
    versionInfo: string,
    nonce: string,
    key: () => string,
    build: () => Buffer,
  ): Buffer {
    const hit = this.findOne(generation, protocol, resource, versionInfo, nonce);
    if (hit !== undefined) return hit;
    const k = key();
    const buf = this.get(generation, k, build, resource);
    // Only for the entry this resource made, so it goes when that entry is evicted (a response over
    // the byte bound is not kept at all).
    const kept = this.entries.get(k);
    if (kept !== undefined && kept.buf === buf && kept.one === resource) {
      this.byResource.set(resource, { protocol, versionInfo, nonce, buf });
    }
    return buf;
  }

  /**
   * The response `getOne` would return with these arguments, if it is already assembled; undefined
   * otherwise. A stream asks this first: on a fan-out all streams but the first find it here, and then
   * make neither the key nor the build closures `getOne` takes.
   */
  findOne(
    generation: number,
    protocol: string,
    resource: object,
    versionInfo: string,
    nonce: string,
  ): Buffer | undefined {
    this.roll(generation);
    const hit = this.byResource.get(resource);
    return hit !== undefined &&
      hit.nonce === nonce &&
      hit.versionInfo === versionInfo &&
      hit.protocol === protocol
      ? hit.buf
      : undefined;
  }

  private roll(generation: number): void {
    if (generation === this.gen) return;
    this.entries.clear();
    this.byResource.clear();
    this.bytes = 0;
    this.gen = generation;
  }
}
