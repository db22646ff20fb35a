/** An in-process HealthSink: the single-replica default and the test double; the cache tier shares one fleet-wide. */
import type { EndpointHealth, HealthSink } from "./types.js";

export class LocalHealthSink implements HealthSink {
  private readonly map = new Map<string, EndpointHealth>();
  private readonly listeners = new Set<(key: string, health: EndpointHealth) => void>();

  set(key: string, health: EndpointHealth): void {
    if (this.map.get(key) === health) return;
    this.map.set(key, health);
    for (const l of [...this.listeners]) l(key, health);
  }

  get(key: string): EndpointHealth | undefined {
    return this.map.get(key);
  }

  delete(key: string): void {
    this.map.delete(key);
  }

  forget(key: string): void {
    this.map.delete(key);
  }

  onChange(listener: (key: string, health: EndpointHealth) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}
