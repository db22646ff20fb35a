/**
 * Test helper: a TCP health-check spec with fast, unjittered timings (1 s interval, 500 ms timeout, one
 * probe to change state), for tests that need a check but do not vary its settings.
 */
import type { HealthCheckSpec } from "../../src/health/types.js";

export function healthCheckSpec(over: Partial<HealthCheckSpec> = {}): HealthCheckSpec {
  return {
    type: "tcp",
    intervalMs: 1000,
    timeoutMs: 500,
    healthyThreshold: 1,
    unhealthyThreshold: 1,
    initialJitter: 0,
    intervalJitter: 0,
    ...over,
  };
}
