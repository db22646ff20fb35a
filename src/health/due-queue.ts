/**
 * A binary min-heap of (due time, key): the scheduler arms one timer for the earliest due check instead
 * of one timer per endpoint, which matters at tens of thousands of endpoints.
 */
export interface DueEntry {
  due: number;
  key: string;
  /** Generation of the endpoint's schedule when queued; stale entries are skipped, not removed. */
  gen: number;
}

export class DueQueue {
  private readonly heap: DueEntry[] = [];

  get size(): number {
    return this.heap.length;
  }

  push(e: DueEntry): void {
    const h = this.heap;
    h.push(e);
    let i = h.length - 1;
    while (i > 0) {
      const p = (i - 1) >> 1;
      const parent = h[p] as DueEntry;
      if (parent.due <= e.due) break;
      h[i] = parent;
      i = p;
    }
    h[i] = e;
  }

  peek(): DueEntry | undefined {
    return this.heap[0];
  }

  pop(): DueEntry | undefined {
    const h = this.heap;
    const top = h[0];
    const last = h.pop();
    if (top === undefined || last === undefined || h.length === 0) return top;
    let i = 0;
    const n = h.length;
    for (;;) {
      const l = 2 * i + 1;
      if (l >= n) break;
      const r = l + 1;
      const lv = h[l] as DueEntry;
      const rv = h[r];
      const c = rv !== undefined && rv.due < lv.due ? r : l;
      const child = h[c] as DueEntry;
      if (child.due >= last.due) break;
      h[i] = child;
      i = c;
    }
    h[i] = last;
    return top;
  }
}
