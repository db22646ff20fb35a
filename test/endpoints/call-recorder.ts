/**
 * Test helper for issue 16's client-side checks: keeps one client calling a cluster back to back (with
 * a small gap) and records every call — when, whether it failed, which backend answered — so a test
 * states what the client observed over a window, not only what EDS held. Bounded in calls and time.
 */

export interface CallRecord {
  /** Unix ms when the call started. */
  at: number;
  ok: boolean;
  /** The backend that answered (its address), or the error text. */
  who: string;
}

export interface CallSummary {
  calls: number;
  failures: number;
  /** Calls per answering backend. */
  byBackend: Record<string, number>;
  firstFailureAt?: number;
  lastSuccessAt?: number;
  /** The first few failure texts, for the assertion message. */
  errors: string[];
}

export interface CallRecorderOptions {
  /** Pause between calls, ms (default 20). */
  gapMs?: number;
  /** Stop after this many calls (default 20,000). */
  maxCalls?: number;
  /** Stop after this long, ms (default 180,000). */
  maxMs?: number;
}

export class CallRecorder {
  readonly records: CallRecord[] = [];
  private stopping = false;
  private loop: Promise<void> | undefined;

  constructor(
    private readonly send: () => Promise<string>,
    private readonly opts: CallRecorderOptions = {},
  ) {}

  start(): this {
    const gap = this.opts.gapMs ?? 20;
    const maxCalls = this.opts.maxCalls ?? 20_000;
    const end = Date.now() + (this.opts.maxMs ?? 180_000);
    this.loop = (async () => {
      for (let i = 0; i < maxCalls && !this.stopping && Date.now() < end; i++) {
        const at = Date.now();
        try {
          this.records.push({ at, ok: true, who: await this.send() });
        } catch (e) {
          this.records.push({ at, ok: false, who: (e as Error).message });
        }
        await new Promise((r) => setTimeout(r, gap));
      }
    })();
    return this;
  }

  async stop(): Promise<CallSummary> {
    this.stopping = true;
    await this.loop;
    return this.summary();
  }

  /** What the client saw for calls started in [from, to). */
  summary(from = 0, to = Number.POSITIVE_INFINITY): CallSummary {
    const s: CallSummary = { calls: 0, failures: 0, byBackend: {}, errors: [] };
    for (const r of this.records) {
      if (r.at < from || r.at >= to) continue;
      s.calls++;
      if (r.ok) {
        s.byBackend[r.who] = (s.byBackend[r.who] ?? 0) + 1;
        s.lastSuccessAt = r.at;
      } else {
        s.failures++;
        s.firstFailureAt ??= r.at;
        if (s.errors.length < 3) s.errors.push(r.who);
      }
    }
    return s;
  }
}

/** One line for logs and assertion messages, e.g. `412 calls, 0 failed, by backend {"127.0.0.61":83,...}`. */
export function describeCalls(s: CallSummary): string {
  return `${s.calls} calls, ${s.failures} failed, by backend ${JSON.stringify(s.byBackend)}${
    s.errors.length > 0 ? `, errors ${JSON.stringify(s.errors)}` : ""
  }`;
}
