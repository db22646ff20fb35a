/**
 * A scripted EndpointSource, a recording Publisher and health tracker, and `pipelineRig`, which wires
 * them to a real EndpointPipeline on a manual clock, for the pipeline's unit tests.
 */
import type { Answer, RecordType } from "../../src/dns/types.js";
import { EndpointPipeline, type HealthTracker } from "../../src/endpoints/endpoint-pipeline.js";
import { type EndpointSource, lookupKey } from "../../src/endpoints/endpoint-source.js";
import type { HoldEvent } from "../../src/endpoints/flap-guard.js";
import type { PublishBatch, Publisher } from "../../src/endpoints/publisher.js";
import { HealthStatus } from "../../src/gen/envoy/config/core/v3/health_check_pb.js";
import type { ClusterLoadAssignment } from "../../src/gen/envoy/config/endpoint/v3/endpoint_pb.js";
import { LocalHealthSink } from "../../src/health/local-health-sink.js";
import { FakeClock } from "../health/fake-clock.js";
import { T0 } from "./fixtures.js";

export class ScriptedSource implements EndpointSource {
  readonly answers = new Map<string, Answer | Error>();
  readonly tracked = new Set<string>();
  readonly log: string[] = [];
  /** What `expiresAt` reports per lookup key, like a cache refreshed without a content change. */
  readonly expiries = new Map<string, number>();
  private readonly listeners = new Set<(name: string, type: RecordType, answer: Answer) => void>();

  set(answer: Answer): void {
    this.answers.set(lookupKey(answer.name, answer.type), answer);
  }
  fail(name: string, type: RecordType, code = "ERR_DNS_TIMEOUT"): void {
    this.answers.set(lookupKey(name, type), Object.assign(new Error("dns down"), { code }));
  }
  /** Sets the answer and tells listeners, like a refresh that changed the data. */
  push(answer: Answer): void {
    this.set(answer);
    for (const l of this.listeners) l(answer.name, answer.type, answer);
  }
  track(name: string, type: RecordType): void {
    this.tracked.add(lookupKey(name, type));
    this.log.push(`track ${lookupKey(name, type)}`);
  }
  untrack(name: string, type: RecordType): void {
    this.tracked.delete(lookupKey(name, type));
    this.log.push(`untrack ${lookupKey(name, type)}`);
  }
  onUpdate(cb: (name: string, type: RecordType, answer: Answer) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }
  expiresAt(name: string, type: RecordType): number | undefined {
    return this.expiries.get(lookupKey(name, type));
  }
  async resolve(name: string, type: RecordType): Promise<Answer> {
    const a = this.answers.get(lookupKey(name, type));
    if (!a)
      throw Object.assign(new Error(`no script for ${lookupKey(name, type)}`), {
        code: "ERR_DNS_NXDOMAIN_SCRIPT",
      });
    if (a instanceof Error) throw a;
    return a;
  }
}

export class RecordingPublisher implements Publisher {
  readonly batches: PublishBatch[] = [];
  failNext = 0;
  publish(batch: PublishBatch): void {
    if (this.failNext > 0) {
      this.failNext--;
      throw Object.assign(new Error("store down"), { code: "ERR_TEST_STORE" });
    }
    this.batches.push(batch);
  }
  /** `TYPE name` of every upsert and `-TYPE name` of every removal, per batch. */
  summary(): string[][] {
    const short = (t: string) => t.split(".").at(-1) ?? t;
    return this.batches.map((b) => [
      ...(b.upsert ?? []).map((u) => `${short(u.typeUrl)} ${u.name}`),
      ...(b.remove ?? []).map((r) => `-${short(r.typeUrl)} ${r.name}`),
    ]);
  }
  /** The last published assignment for a cluster. */
  lastCla(name: string, variant?: string): ClusterLoadAssignment | undefined {
    for (let i = this.batches.length - 1; i >= 0; i--) {
      const u = this.batches[i]?.upsert?.find(
        (x) => x.name === name && x.typeUrl.endsWith("ClusterLoadAssignment"),
      );
      if (u) return (variant ? u.variants?.get(variant) : u.resource) as ClusterLoadAssignment | undefined;
    }
    return undefined;
  }
}

/** `priority address:port HEALTH` rows of an assignment. */
export function rows(cla: ClusterLoadAssignment | undefined): string[] {
  const out: string[] = [];
  for (const le of cla?.endpoints ?? []) {
    for (const lb of le.lbEndpoints) {
      if (lb.hostIdentifier.case !== "endpoint") continue;
      const ad = lb.hostIdentifier.value.address?.address;
      if (ad?.case !== "socketAddress") continue;
      out.push(
        `${le.priority} ${ad.value.address}:${ad.value.portSpecifier.value} ${HealthStatus[lb.healthStatus]}`,
      );
    }
  }
  return out;
}

/** What the pipeline asked to probe: `tracked` now, `ever` at any time. */
export class RecordingTracker implements HealthTracker {
  readonly tracked = new Set<string>();
  readonly ever = new Set<string>();
  track(t: { address: string; port: number }): void {
    this.tracked.add(`${t.address}|${t.port}`);
    this.ever.add(`${t.address}|${t.port}`);
  }
  untrack(key: string): void {
    this.tracked.delete(key);
  }
}

const open = new Set<EndpointPipeline>();

/** Closes every pipeline `pipelineRig` made (each test file calls it after each test). */
export function closeRigs(): void {
  for (const p of open) p.close();
  open.clear();
}

/**
 * A real pipeline over a scripted source, a recording publisher and a manual clock at T0.
 * `health`: give it a health sink and tracker (health checks take effect); `errors`: collect what
 * it reports through onError instead of leaving it unhandled; `onHold`: its flap-guard events.
 */
export function pipelineRig(
  opts: { debounceMs?: number; health?: boolean; errors?: boolean; onHold?: (e: HoldEvent) => void } = {},
) {
  const clock = new FakeClock(T0);
  const source = new ScriptedSource();
  const publisher = new RecordingPublisher();
  const sink = new LocalHealthSink();
  const tracker = new RecordingTracker();
  const errors: string[] = [];
  const p = new EndpointPipeline({
    source,
    publisher,
    clock,
    debounceMs: opts.debounceMs ?? 100,
    ...(opts.health ? { healthSink: sink, healthTracker: tracker } : {}),
    ...(opts.errors
      ? { onError: (e: unknown, ctx: string) => errors.push(`${ctx}: ${(e as Error).message}`) }
      : {}),
    ...(opts.onHold ? { onHold: opts.onHold } : {}),
  });
  open.add(p);
  return { clock, source, publisher, sink, tracker, errors, p };
}
