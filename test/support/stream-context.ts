/**
 * Test helper: the StreamContext a server gives each xDS stream, with silent logs, no metrics, default
 * limits and a fresh shared-response cache, for driving one stream on a fake call. `over` replaces any
 * field (the store, the clock, a convergence tracker).
 */
import pino from "pino";
import { ClientTextLog } from "../../src/xds/client-text-log.js";
import { withDefaultLimits } from "../../src/xds/limits.js";
import { NOOP_METRICS } from "../../src/xds/metrics.js";
import { ResourceStore } from "../../src/xds/resource-store.js";
import { SharedResponses } from "../../src/xds/shared-responses.js";
import type { StreamContext } from "../../src/xds/stream-base.js";

export function streamContextForTests(over: Partial<StreamContext> = {}): StreamContext {
  const logger = pino({ level: "silent" });
  return {
    store: new ResourceStore(),
    logger,
    metrics: NOOP_METRICS,
    now: Date.now,
    limits: withDefaultLimits(undefined),
    budget: { nameBytes: 0 },
    clientLog: new ClientTextLog(logger, {}),
    peer: "127.0.0.1:1",
    access: undefined,
    variantKeyOf: () => undefined,
    fixedTypeUrl: undefined,
    kind: "ads-sotw",
    onClose: () => {},
    shared: new SharedResponses(),
    ...over,
  };
}
