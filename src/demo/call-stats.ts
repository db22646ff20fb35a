/**
 * Counts of demo calls per endpoint: a sliding window for "where do calls go right now" and totals
 * per demo phase for the closing summary (and for tests to assert on). Clock injectable.
 */

export interface CallSample {
  at: number;
  /** `backend address` or `error CODE`. */
  key: string;
}

export interface EndpointShare {
  key: string;
  recent: number;
  total: number;
}

export class CallStats {
  private readonly samples: CallSample[] = [];
  private readonly totals = new Map<string, number>();
  private readonly phases = new Map<string, Map<string, number>>();
  private phase = "";

  constructor(
    private readonly windowMs: number,
    private readonly now: () => number = Date.now,
  ) {}

  setPhase(name: string): void {
    this.phase = name;
    if (!this.phases.has(name)) this.phases.set(name, new Map());
  }

  /** The phase calls started now belong to. */
  get currentPhase(): string {
    return this.phase;
  }

  /**
   * Counts one finished call. `phase` is the phase the call started in: a reply that was already on
   * its way when the demo failed a backend belongs to the phase before the failure.
   */
  record(key: string, phase: string = this.phase): void {
    const at = this.now();
    this.samples.push({ at, key });
    this.totals.set(key, (this.totals.get(key) ?? 0) + 1);
    const p = this.phases.get(phase);
    if (p) p.set(key, (p.get(key) ?? 0) + 1);
    this.prune(at);
  }

  /** Every key seen so far with its count in the window and in total, sorted by key. */
  shares(): EndpointShare[] {
    this.prune(this.now());
    const recent = new Map<string, number>();
    for (const s of this.samples) recent.set(s.key, (recent.get(s.key) ?? 0) + 1);
    return [...this.totals.keys()]
      .sort()
      .map((key) => ({ key, recent: recent.get(key) ?? 0, total: this.totals.get(key) ?? 0 }));
  }

  /** Counts per phase, in phase order. */
  byPhase(): Array<{ phase: string; counts: Record<string, number> }> {
    return [...this.phases].map(([phase, m]) => ({ phase, counts: Object.fromEntries(m) }));
  }

  private prune(now: number): void {
    // Samples arrive in time order, so the expired ones are a prefix.
    let drop = 0;
    while (drop < this.samples.length && (this.samples[drop] as CallSample).at < now - this.windowMs) drop++;
    if (drop > 0) this.samples.splice(0, drop);
  }
}
