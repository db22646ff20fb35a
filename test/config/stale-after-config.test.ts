/**
 * `clusters[].staleAfterMs`: off (absent from the spec, no endpoint_stale_after) by default; a set value
 * reaches the ClusterLoadAssignment's policy; values between 1 and 999 ms are refused with a message
 * naming the key.
 */
import { describe, expect, it } from "vitest";
import { parseConfigObject } from "../../src/config/load-config.js";
import { buildAssignment } from "../../src/endpoints/assignment-builder.js";

const cluster = (extra: Record<string, unknown>) => ({
  clusters: [{ name: "web", static: [{ address: "127.0.0.1", port: 80 }], ...extra }],
});

describe("staleAfterMs", () => {
  it("is off by default: no endpoint_stale_after in the assignment", () => {
    const spec = parseConfigObject(cluster({}), { source: "t" }).clusters[0];
    if (!spec) throw new Error("no cluster");
    expect(spec.staleAfterMs).toBeUndefined();
    expect(buildAssignment({ spec, candidates: [] }).policy?.endpointStaleAfter).toBeUndefined();
  });

  it("goes into policy.endpoint_stale_after when set", () => {
    const spec = parseConfigObject(cluster({ staleAfterMs: 2_500 }), { source: "t" }).clusters[0];
    if (!spec) throw new Error("no cluster");
    const d = buildAssignment({ spec, candidates: [] }).policy?.endpointStaleAfter;
    expect(d?.seconds).toBe(2n);
    expect(d?.nanos).toBe(500_000_000);
  });

  it.each([1, 999, -1, 86_400_001])("refuses %d naming the key", (v) => {
    expect(() => parseConfigObject(cluster({ staleAfterMs: v }), { source: "t" })).toThrow(
      /clusters\[0\]\.staleAfterMs/,
    );
  });
});
