/**
 * A small cache of assembled response buffers shared by all streams of a server. On a fan-out (one CLA
 * changed, a thousand streams subscribed) every stream would otherwise concatenate the same bytes; with
 * nonces derived from the store generation their responses are byte-identical, so the first stream
 * assembles and the rest reuse it. Bounded in entries and bytes; emptied when the generation moves on.
 */

export class SharedResponses {
  private gen = -1;
  private bytes = 0;
  private readonly entries = new Map<string, Buffer>();

  constructor(
    private readonly maxEntries = 256,
    private readonly maxBytes = 64 * 1024 * 1024,
  ) {}

  get(generation: number, key: string, build: () => Buffer): Buffer {
    if (generation !== this.gen) {
      this.entries.clear();
      this.bytes = 0;
      this.gen = generation;
    }
    const hit = this.entries.get(key);
    if (hit) return hit;
    const buf = build();
    if (buf.length <= this.maxBytes) {
      while (this.entries.size >= this.maxEntries || this.bytes + buf.length > this.maxBytes) {
        const oldest = this.entries.entries().next();
        if (oldest.done) break;
        this.entries.delete(oldest.value[0]);
        this.bytes -= oldest.value[1].length;
      }
      this.entries.set(key, buf);
      this.bytes += buf.length;
    }
    return buf;
  }
}
