/**
 * Lists a key prefix in pages, all at one revision, so a large keyspace never has to fit in one
 * response: a single Range over the whole prefix fails once it passes the client's 4 MiB receive
 * limit, and a replica that cannot list stays degraded for good. Pages are read at the revision of
 * the first one (a consistent snapshot); a page too large for the limit is asked for again with half
 * as many keys, and the page size that worked is kept for the next listing.
 */
import type { Etcd3, IKeyValue } from "etcd3";

export interface PagedListResult {
  /** Store revision the whole listing reflects. */
  revision: number;
  kvs: IKeyValue[];
  /** Range requests it took. */
  pages: number;
}

/** Keys per page to start with (a few hundred answers of ordinary size fit well under 4 MiB). */
export const DEFAULT_PAGE_KEYS = 500;
/** Pages at most per listing: bounds the loop (500 × 100,000 keys at the smallest page size). */
const MAX_PAGES = 100_000;

/** The first key after every key that starts with `prefix` (etcd's prefix range end). */
export function prefixEnd(prefix: Buffer): Buffer {
  const end = Buffer.from(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if ((end[i] ?? 0) < 0xff) {
      end[i] = (end[i] ?? 0) + 1;
      return end.subarray(0, i + 1);
    }
  }
  return Buffer.from([0]);
}

/** gRPC's "message larger than max" (RESOURCE_EXHAUSTED) on the client side. */
function tooLarge(err: unknown): boolean {
  const e = err as { code?: number; message?: string; details?: string };
  return (
    e?.code === 8 || /larger than max|RESOURCE_EXHAUSTED/i.test(`${e?.message ?? ""} ${e?.details ?? ""}`)
  );
}

export class PagedLister {
  private pageKeys: number;

  constructor(
    private readonly client: Etcd3,
    pageKeys = DEFAULT_PAGE_KEYS,
  ) {
    this.pageKeys = Math.max(1, pageKeys);
  }

  async list(prefix: string): Promise<PagedListResult> {
    const start = Buffer.from(prefix);
    const end = prefixEnd(start);
    const kvs: IKeyValue[] = [];
    let key = start;
    let revision: string | undefined;
    let pages = 0;
    for (let i = 0; i < MAX_PAGES; i++) {
      let res: Awaited<ReturnType<Etcd3["kv"]["range"]>>;
      try {
        res = await this.client.kv.range({
          key,
          range_end: end,
          limit: this.pageKeys,
          ...(revision !== undefined ? { revision } : {}),
        });
      } catch (err) {
        if (tooLarge(err) && this.pageKeys > 1) {
          this.pageKeys = Math.max(1, Math.floor(this.pageKeys / 2));
          continue;
        }
        throw err;
      }
      pages++;
      revision ??= res.header.revision;
      kvs.push(...res.kvs);
      const last = res.kvs[res.kvs.length - 1];
      if (!res.more || !last) return { revision: Number(revision ?? 0), kvs, pages };
      key = Buffer.concat([last.key, Buffer.from([0])]);
    }
    throw new Error(`listing ${prefix} did not finish within ${MAX_PAGES} pages`);
  }
}
