/**
 * The staleAfterMs re-sender with an injected clock: a CLA with `policy.endpoint_stale_after` is re-sent
 * (forced to watchers that already hold it) once per third of that time; a CLA without it never is; a
 * removed one is forgotten. The Envoy side (the timer really is re-armed) is test/envoy/control-plane-loss.
 */
import { create } from "@bufbuild/protobuf";
import { DurationSchema } from "@bufbuild/protobuf/wkt";
import { describe, expect, it } from "vitest";
import { clusterLoadAssignment } from "../../src/xds/resource-builders.js";
import { type ResourceChange, ResourceStore } from "../../src/xds/resource-store.js";
import { resendEveryMs, startStaleRefresh } from "../../src/xds/stale-refresh.js";
import { TYPE_URLS } from "../../src/xds/type-urls.js";

function cla(name: string, staleMs?: number) {
  const c = clusterLoadAssignment(name, [{ endpoints: [{ address: "127.0.0.1", port: 80 }] }]);
  if (staleMs !== undefined) {
    c.policy = {
      $typeName: "envoy.config.endpoint.v3.ClusterLoadAssignment.Policy",
      dropOverloads: [],
      weightedPriorityHealth: false,
      endpointStaleAfter: create(DurationSchema, {
        seconds: BigInt(Math.floor(staleMs / 1000)),
        nanos: (staleMs % 1000) * 1e6,
      }),
    };
  }
  return c;
}

describe("stale-after re-sender", () => {
  it("re-sends only assignments with endpoint_stale_after, once per third of it, forced", () => {
    let t = 0;
    const store = new ResourceStore({ now: () => t });
    store.publish({
      upsert: [
        { typeUrl: TYPE_URLS.endpoint, name: "fresh", resource: cla("fresh", 3_000) },
        { typeUrl: TYPE_URLS.endpoint, name: "plain", resource: cla("plain") },
      ],
    });
    const seen: ResourceChange[] = [];
    const w = store.watch((c) => seen.push(...c));
    w.setInterest(TYPE_URLS.endpoint, ["fresh", "plain"], false);
    const r = startStaleRefresh({ store, now: () => t, setInterval: () => ({}), clearInterval: () => {} });

    expect(r.tick()).toEqual([]); // first sight: it was just published
    t = resendEveryMs(3_000) - 1;
    expect(r.tick()).toEqual([]);
    t = resendEveryMs(3_000);
    expect(r.tick()).toEqual(["fresh"]);
    expect(seen).toEqual([
      { typeUrl: TYPE_URLS.endpoint, name: "fresh", removed: false, force: true, at: t },
    ]);
    t += 999;
    expect(r.tick()).toEqual([]);
    t += 1;
    expect(r.tick()).toEqual(["fresh"]);
    // Over a minute: 60 re-sends at 1 s, never "plain".
    let n = 0;
    for (let i = 0; i < 600; i++) {
      t += 100;
      n += r.tick().length;
    }
    expect(n).toBe(60);
    expect(seen.every((c) => c.name === "fresh")).toBe(true);

    store.publish({ remove: [{ typeUrl: TYPE_URLS.endpoint, name: "fresh" }] });
    t += 10_000;
    expect(r.tick()).toEqual([]);
    r.stop();
  });

  it("store.resend ignores names it does not hold", () => {
    const store = new ResourceStore();
    expect(store.resend(TYPE_URLS.endpoint, ["nope"])).toBe(0);
  });
});
