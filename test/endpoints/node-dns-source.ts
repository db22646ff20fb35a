/**
 * Test-only EndpointSource over Node's c-ares resolver pointed at a test DNS server, polling tracked
 * names. It stands in for the caching resolver so the e2e test can run the endpoints stage against real
 * bind9 on its own; NODATA/NXDOMAIN become empty answers, other errors reject (the pipeline keeps last good).
 */
import { promises as dns } from "node:dns";
import type { Answer, DnsRecord, RecordType } from "../../src/dns/types.js";
import { type EndpointSource, fqdn, lookupKey } from "../../src/endpoints/endpoint-source.js";

export class NodeDnsSource implements EndpointSource {
  private readonly resolver: dns.Resolver;
  private readonly tracked = new Map<string, { name: string; type: RecordType; last?: string }>();
  private readonly listeners = new Set<(name: string, type: RecordType, answer: Answer) => void>();
  private timer: NodeJS.Timeout | undefined;

  constructor(server: string, pollMs: number) {
    this.resolver = new dns.Resolver({ timeout: 500, tries: 1 });
    this.resolver.setServers([server]);
    this.timer = setInterval(() => void this.poll(), pollMs);
  }

  close(): void {
    if (this.timer) clearInterval(this.timer);
    this.timer = undefined;
  }

  track(name: string, type: RecordType): void {
    this.tracked.set(lookupKey(name, type), { name: fqdn(name), type });
  }
  untrack(name: string, type: RecordType): void {
    this.tracked.delete(lookupKey(name, type));
  }
  onUpdate(cb: (name: string, type: RecordType, answer: Answer) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  async resolve(name: string, type: RecordType): Promise<Answer> {
    const n = fqdn(name);
    const q = n.slice(0, -1);
    const base = { name: n, type, server: "test", resolvedAt: Date.now(), stale: false };
    try {
      let records: DnsRecord[] = [];
      if (type === "A")
        records = (await this.resolver.resolve4(q, { ttl: true })).map((r) => ({
          type: "A",
          address: r.address,
          ttl: r.ttl,
        }));
      else if (type === "AAAA")
        records = (await this.resolver.resolve6(q, { ttl: true })).map((r) => ({
          type: "AAAA",
          address: r.address,
          ttl: r.ttl,
        }));
      else if (type === "TXT")
        records = (await this.resolver.resolveTxt(q)).map((strings) => ({ type: "TXT", strings, ttl: 1 }));
      else
        records = (await this.resolver.resolveSrv(q)).map((s) => ({
          type: "SRV",
          priority: s.priority,
          weight: s.weight,
          port: s.port,
          target: s.name,
          ttl: 1,
        }));
      return { ...base, rcode: 0, records, ttl: Math.min(60, ...records.map((r) => r.ttl)) };
    } catch (e) {
      const code = (e as { code?: string }).code;
      if (code === "ENODATA") return { ...base, rcode: 0, records: [], ttl: 1 };
      if (code === "ENOTFOUND") return { ...base, rcode: 3, records: [], ttl: 1 };
      throw e;
    }
  }

  private async poll(): Promise<void> {
    for (const t of [...this.tracked.values()]) {
      try {
        const a = await this.resolve(t.name, t.type);
        const fp = JSON.stringify(a.records.map((r) => ({ ...r, ttl: 0 })));
        if (fp === t.last) continue;
        t.last = fp;
        for (const l of this.listeners) l(t.name, t.type, a);
      } catch {
        // A failed refresh is not an update: the last answer stands.
      }
    }
  }
}
