/**
 * A DnsResolver whose underlying resolver can be replaced while lookups run, so a reload can apply new
 * DNS servers, timeouts, attempts, backoff, 0x20 and rebinding guard by building a fresh resolver. New
 * lookups go to the new one at once; the old one is closed only when its last lookup settled, so a
 * reload never fails a lookup in flight.
 */
import type { DnsResolver } from "./resolver.js";
import type { Answer, RecordType, ResolveOptions } from "./types.js";

export class ReplaceableResolver implements DnsResolver {
  private current: DnsResolver;
  private readonly inFlight = new Map<DnsResolver, number>();
  private readonly retiring = new Set<DnsResolver>();
  private readonly closing: Promise<void>[] = [];
  private closed = false;

  constructor(initial: DnsResolver) {
    this.current = initial;
  }

  get servers(): readonly string[] {
    return this.current.servers;
  }

  resolve(name: string, type: RecordType, options?: ResolveOptions): Promise<Answer> {
    const r = this.current;
    this.inFlight.set(r, (this.inFlight.get(r) ?? 0) + 1);
    return r.resolve(name, type, options).finally(() => {
      const left = (this.inFlight.get(r) ?? 1) - 1;
      if (left > 0) {
        this.inFlight.set(r, left);
        return;
      }
      this.inFlight.delete(r);
      if (this.retiring.delete(r)) this.closing.push(r.close());
    });
  }

  /** Sends new lookups to `next`; the previous resolver closes once its lookups have settled. */
  replace(next: DnsResolver): void {
    if (this.closed) {
      void next.close();
      return;
    }
    const old = this.current;
    this.current = next;
    if ((this.inFlight.get(old) ?? 0) === 0) this.closing.push(old.close());
    else this.retiring.add(old);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Lookups still running on a retired resolver are failed by its close, like the current one's.
    const all = [this.current, ...this.retiring];
    this.retiring.clear();
    await Promise.all([...all.map((r) => r.close()), ...this.closing]);
  }
}
