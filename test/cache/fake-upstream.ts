/**
 * A counting, programmable in-memory `Resolver` for the cache policy tests: answers per (name, type),
 * failure injection (timeouts), and a gate to hold lookups in flight. Real-DNS tests use bind9.
 */
import type { Answer, DnsRecord, RecordType, Resolver } from "../../src/dns/types.js";

export class FakeDnsError extends Error {
  constructor(readonly code: string) {
    super(code);
  }
}

export class FakeUpstream implements Resolver {
  calls = 0;
  readonly callsByKey = new Map<string, number>();
  failing: string | undefined;
  private readonly answers = new Map<string, { rcode: number; records: DnsRecord[]; ttl: number }>();
  private gate: Promise<void> | undefined;
  private release: (() => void) | undefined;

  constructor(private readonly now: () => number = Date.now) {}

  set(name: string, type: RecordType, records: DnsRecord[], ttl: number, rcode = 0): void {
    this.answers.set(`${type}/${name}`, { rcode, records, ttl });
  }

  hold(): void {
    this.gate = new Promise((r) => {
      this.release = r;
    });
  }

  unhold(): void {
    this.release?.();
    this.gate = undefined;
  }

  async resolve(name: string, type: RecordType): Promise<Answer> {
    this.calls++;
    const key = `${type}/${name}`;
    this.callsByKey.set(key, (this.callsByKey.get(key) ?? 0) + 1);
    if (this.gate) await this.gate;
    if (this.failing) throw new FakeDnsError(this.failing);
    const a = this.answers.get(key);
    if (!a) throw new FakeDnsError("ERR_DNS_SERVFAIL");
    return {
      name,
      type,
      rcode: a.rcode,
      records: a.records,
      ttl: a.ttl,
      server: "fake:53",
      resolvedAt: this.now(),
      stale: false,
    };
  }
}

export const aRec = (address: string, ttl = 30): DnsRecord => ({ type: "A", address, ttl });
