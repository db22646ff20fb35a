import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { XdsError } from "../../src/xds/errors.js";
import { clusterLoadAssignment, edsCluster } from "../../src/xds/resource-builders.js";
import { type PublishBatch, ResourceStore } from "../../src/xds/resource-store.js";
import { PUSH_ORDER, TYPE_URLS } from "../../src/xds/type-urls.js";
import { seeded } from "../support/property-seed.js";

const names = ["a", "b", "c", "d"];
const op = fc.oneof(
  fc.record({
    kind: fc.constant("cla" as const),
    name: fc.constantFrom(...names),
    host: fc.integer({ min: 1, max: 3 }),
    dup: fc.boolean(),
  }),
  fc.record({
    kind: fc.constant("cluster" as const),
    name: fc.constantFrom(...names),
    timeout: fc.integer({ min: 1, max: 3 }),
  }),
  fc.record({ kind: fc.constant("rmCla" as const), name: fc.constantFrom(...names) }),
  fc.record({ kind: fc.constant("rmCluster" as const), name: fc.constantFrom(...names) }),
);

type Op = { kind: string; name: string; host?: number; dup?: boolean; timeout?: number };

function toBatch(ops: Op[]): PublishBatch {
  const batch: Required<PublishBatch> = { upsert: [], remove: [] };
  for (const o of ops as Array<{
    kind: string;
    name: string;
    host?: number;
    dup?: boolean;
    timeout?: number;
  }>) {
    if (o.kind === "cla") {
      const hosts = [{ address: `10.0.0.${o.host}`, port: 80 }];
      // A duplicate address is something a client NACKs: the store must reject the whole batch.
      if (o.dup) hosts.push({ address: `10.0.0.${o.host}`, port: 80 });
      batch.upsert.push({
        typeUrl: TYPE_URLS.endpoint,
        name: o.name,
        resource: clusterLoadAssignment(o.name, [{ endpoints: hosts }]),
      });
    } else if (o.kind === "cluster") {
      batch.upsert.push({
        typeUrl: TYPE_URLS.cluster,
        name: o.name,
        resource: edsCluster(o.name, { connectTimeoutMs: (o.timeout ?? 1) * 1000 }),
      });
    } else if (o.kind === "rmCla") {
      batch.remove.push({ typeUrl: TYPE_URLS.endpoint, name: o.name });
    } else {
      batch.remove.push({ typeUrl: TYPE_URLS.cluster, name: o.name });
    }
  }
  return batch;
}

/** Every name and version of every type: what a failed publish must leave unchanged. */
const snapshot = (store: ResourceStore) =>
  JSON.stringify(
    PUSH_ORDER.map((t) =>
      store.entries(t).map((e) => [e.name, e.base.version, [...(e.variants ?? new Map()).keys()]]),
    ),
  );

describe("ResourceStore properties", () => {
  it("publish is atomic and every Cluster's CLA exists afterwards", () => {
    fc.assert(
      fc.property(
        fc.array(fc.array(op, { minLength: 1, maxLength: 5 }), { minLength: 1, maxLength: 12 }),
        (batches) => {
          const store = new ResourceStore();
          for (const ops of batches) {
            const before = snapshot(store);
            try {
              store.publish(toBatch(ops));
            } catch (e) {
              expect(e).toBeInstanceOf(XdsError);
              expect(["ERR_XDS_INVALID_RESOURCE", "ERR_XDS_INCONSISTENT"]).toContain((e as XdsError).code);
              expect(snapshot(store)).toBe(before);
              continue;
            }
            for (const n of store.names(TYPE_URLS.cluster))
              expect(store.get(TYPE_URLS.endpoint, n)).toBeDefined();
          }
        },
      ),
      seeded({ seed: 15006, runs: 200, label: "store atomic publish" }),
    );
  });

  it("versions depend only on content, not on history", () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 5 }), { minLength: 1, maxLength: 10 }), (hosts) => {
        const a = new ResourceStore();
        for (const h of hosts) {
          a.publish({
            upsert: [
              {
                typeUrl: TYPE_URLS.endpoint,
                name: "x",
                resource: clusterLoadAssignment("x", [{ endpoints: [{ address: `10.0.0.${h}`, port: 1 }] }]),
              },
            ],
          });
        }
        const b = new ResourceStore();
        const last = hosts[hosts.length - 1];
        b.publish({
          upsert: [
            {
              typeUrl: TYPE_URLS.endpoint,
              name: "x",
              resource: clusterLoadAssignment("x", [{ endpoints: [{ address: `10.0.0.${last}`, port: 1 }] }]),
            },
          ],
        });
        expect(a.get(TYPE_URLS.endpoint, "x")?.version).toBe(b.get(TYPE_URLS.endpoint, "x")?.version);
      }),
      seeded({ seed: 15007, runs: 100, label: "store content versions" }),
    );
  });
});
