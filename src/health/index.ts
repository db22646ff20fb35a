/** Public surface of the health stage: the scheduler, the probes, and the sink types. */
export { type Clock, systemClock } from "./clock.js";
export { createGrpcProber, type GrpcProber } from "./grpc-check.js";
export {
  defaultProbes,
  HealthScheduler,
  HealthSchedulerError,
  type HealthSchedulerOptions,
  type HealthSchedulerStats,
  type ProbeSet,
} from "./health-scheduler.js";
export { httpProbe } from "./http-check.js";
export { LocalHealthSink } from "./local-health-sink.js";
export {
  HARD_CODES,
  type Probe,
  type ProbeFailureCode,
  type ProbeResult,
  type ProbeTarget,
} from "./probe.js";
export { tcpProbe } from "./tcp-check.js";
export { type EndpointHealth, endpointKey, type HealthCheckSpec, type HealthSink } from "./types.js";
