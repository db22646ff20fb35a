/**
 * What the xDS server reports about itself. The operator surface (src/admin) implements this with
 * prom-client; the server only calls these hooks, so it stays free of any metrics library.
 */

export interface XdsMetrics {
  streamOpened(kind: string): void;
  streamClosed(kind: string): void;
  pushed(typeUrl: string, bytes: number, latencyMs: number): void;
  nacked(typeUrl: string, detail: string): void;
}

export const NOOP_METRICS: XdsMetrics = {
  streamOpened() {},
  streamClosed() {},
  pushed() {},
  nacked() {},
};
