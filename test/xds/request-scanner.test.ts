/**
 * The request scanner against protobuf-es: for any request protobuf-es encodes, the scan yields the same
 * type URL, nonce, names, initial versions, error detail and node; per-request limits stop the scan
 * before the names are decoded; garbage never throws. Property runs: test/support/property-seed.ts.
 */
import { create, fromBinary, toBinary } from "@bufbuild/protobuf";
import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { NodeSchema } from "../../src/gen/envoy/config/core/v3/base_pb.js";
import {
  DeltaDiscoveryRequestSchema,
  DiscoveryRequestSchema,
} from "../../src/gen/envoy/service/discovery/v3/discovery_pb.js";
import { LimitError } from "../../src/xds/limits.js";
import { scanDeltaRequest, scanSotwRequest } from "../../src/xds/request-scanner.js";
import { PUSH_ORDER, TYPE_URLS } from "../../src/xds/type-urls.js";
import { seeded } from "../support/property-seed.js";

const WIDE = { maxNamesPerRequest: 1_000_000, maxNameBytes: 1_000_000 };

const text = fc.string({ unit: "grapheme", maxLength: 40 });
const node = fc.record({
  id: text,
  cluster: text,
  locality: fc.option(fc.record({ region: text, zone: text, subZone: text }), { nil: undefined }),
  clientFeatures: fc.array(text, { maxLength: 3 }),
  userAgentName: text,
});
const errorDetail = fc.option(fc.record({ code: fc.integer({ min: 0, max: 16 }), message: text }), {
  nil: undefined,
});

describe("scanSotwRequest", () => {
  it("reads what protobuf-es wrote", () => {
    fc.assert(
      fc.property(
        fc.record({
          versionInfo: text,
          node: fc.option(node, { nil: undefined }),
          resourceNames: fc.array(text, { maxLength: 20 }),
          typeUrl: text,
          responseNonce: text,
          errorDetail,
        }),
        (init) => {
          const msg = create(DiscoveryRequestSchema, init);
          const r = scanSotwRequest(toBinary(DiscoveryRequestSchema, msg), WIDE);
          expect(r.problem).toBeUndefined();
          expect(r.typeUrl).toBe(msg.typeUrl);
          expect(r.responseNonce).toBe(msg.responseNonce);
          expect(r.resourceNames()).toEqual(msg.resourceNames);
          expect(r.nameCount).toBe(msg.resourceNames.length);
          expect(r.hasErrorDetail).toBe(msg.errorDetail !== undefined);
          expect(r.errorMessage()).toBe(msg.errorDetail?.message ?? "");
          expect(r.hasNode).toBe(msg.node !== undefined);
          const n = r.node();
          expect(n && toBinary(NodeSchema, n)).toEqual(msg.node && toBinary(NodeSchema, msg.node));
        },
      ),
      seeded({ seed: 11011, runs: 300, label: "sotw scan = protobuf-es" }),
    );
  });

  it("never throws on arbitrary bytes, and agrees with protobuf-es when both accept them", () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (bytes) => {
        const r = scanSotwRequest(bytes, WIDE);
        if (r.problem) return;
        let msg: ReturnType<typeof fromBinary<typeof DiscoveryRequestSchema>>;
        try {
          msg = fromBinary(DiscoveryRequestSchema, bytes);
        } catch {
          return;
        }
        expect(r.resourceNames()).toEqual(msg.resourceNames);
        expect(r.typeUrl).toBe(msg.typeUrl.slice(0, r.typeUrl.length));
      }),
      seeded({ seed: 11012, runs: 300, label: "sotw scan of garbage" }),
    );
  });

  it("stops counting at maxNamesPerRequest + 1 and counts duplicates", () => {
    const many = Array.from({ length: 100_000 }, (_, i) => `n${i}`);
    const r = scanSotwRequest(
      toBinary(DiscoveryRequestSchema, create(DiscoveryRequestSchema, { resourceNames: many })),
      {
        maxNamesPerRequest: 10_000,
        maxNameBytes: 1024,
      },
    );
    expect(r.problem).toBeInstanceOf(LimitError);
    expect((r.problem as LimitError).limit).toBe("maxNamesPerRequest");
    // The scan stopped at the first name over the limit: the other 89,999 were never looked at.
    expect(r.nameCount).toBe(10_001);

    const dup = toBinary(
      DiscoveryRequestSchema,
      create(DiscoveryRequestSchema, { resourceNames: Array.from({ length: 20_000 }, () => "same") }),
    );
    expect(
      (scanSotwRequest(dup, { maxNamesPerRequest: 10_000, maxNameBytes: 1024 }).problem as LimitError).limit,
    ).toBe("maxNamesPerRequest");
  });

  it("refuses a name longer than maxNameBytes, counting UTF-8 bytes", () => {
    const req = (name: string) =>
      toBinary(DiscoveryRequestSchema, create(DiscoveryRequestSchema, { resourceNames: ["ok", name] }));
    const limits = { maxNamesPerRequest: 10, maxNameBytes: 8 };
    expect(scanSotwRequest(req("é".repeat(4)), limits).problem).toBeUndefined();
    const r = scanSotwRequest(req("é".repeat(5)), limits);
    expect((r.problem as LimitError).limit).toBe("maxNameBytes");
    expect(r.problem?.message).toContain("xds.limits.maxNameBytes");
  });

  it("names malformed bytes: a length past the end, a group, field number 0", () => {
    for (const bytes of [
      Uint8Array.from([0x1a, 0x05, 0x61]), // resource_names claims 5 bytes, 1 follows
      Uint8Array.from([0x1b]), // field 3 as a start-group
      Uint8Array.from([0x02, 0x00]), // field 0
      Uint8Array.from([0x1a, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x01]), // 11-byte varint
    ]) {
      const r = scanSotwRequest(bytes, WIDE);
      expect(r.problem?.code, Buffer.from(bytes).toString("hex")).toBe("ERR_XDS_BAD_REQUEST");
    }
  });

  it("decodes a nonce too long to be ours as one that matches nothing", () => {
    const r = scanSotwRequest(
      toBinary(DiscoveryRequestSchema, create(DiscoveryRequestSchema, { responseNonce: "1.".repeat(1000) })),
      WIDE,
    );
    expect(r.problem).toBeUndefined();
    expect(r.responseNonce).not.toBe("");
    expect(r.responseNonce.length).toBeLessThan(10);
  });

  it("cuts a long error_detail to what it was asked for, saying how long it was", () => {
    const r = scanSotwRequest(
      toBinary(
        DiscoveryRequestSchema,
        create(DiscoveryRequestSchema, { errorDetail: { code: 3, message: "x".repeat(1_000_000) } }),
      ),
      WIDE,
    );
    const m = r.errorMessage(100);
    expect(m.startsWith("x".repeat(100))).toBe(true);
    expect(m).toContain("1000000 bytes");
    expect(m.length).toBeLessThan(130);
  });

  it("gives a type URL we serve as our own constant, and any other as decoded", () => {
    const scan = (typeUrl: string) =>
      scanSotwRequest(toBinary(DiscoveryRequestSchema, create(DiscoveryRequestSchema, { typeUrl })), WIDE);
    for (const t of PUSH_ORDER) {
      // Equal and the same object: a copy would be equal too, so the identity is what is checked.
      const copy = Buffer.from(t).toString();
      expect(scan(copy).typeUrl).toBe(t);
      expect(Object.is(scan(copy).typeUrl, t)).toBe(true);
    }
    const nearly = `${TYPE_URLS.endpoint.slice(0, -1)}X`;
    expect(scan(nearly).typeUrl).toBe(nearly);
    expect(scan(`${TYPE_URLS.endpoint}s`).typeUrl).toBe(`${TYPE_URLS.endpoint}s`);
  });

  it("tells a request whose names are byte for byte another's, without decoding them", () => {
    const scan = (resourceNames: string[], extra: { responseNonce?: string } = {}) =>
      scanSotwRequest(
        toBinary(
          DiscoveryRequestSchema,
          create(DiscoveryRequestSchema, { typeUrl: TYPE_URLS.endpoint, resourceNames, ...extra }),
        ),
        WIDE,
      );
    const ab = scan(["a", "b"]).namesWire();
    // An ACK carries a nonce and the same names: the same.
    expect(scan(["a", "b"], { responseNonce: "1.0" }).sameNamesAs(ab)).toBe(true);
    // The same set in another order, a repeated name, one name fewer or more, other bytes: not the same.
    for (const other of [["b", "a"], ["a", "a"], ["a"], ["a", "b", "c"], ["a", "c"], ["ä", "b"], []]) {
      expect(scan(other).sameNamesAs(ab)).toBe(false);
    }
    expect(scan([]).sameNamesAs(scan([]).namesWire())).toBe(true);
    expect(scan(["a"]).sameNamesAs("")).toBe(false);
    // Names that are not ASCII are compared as their bytes.
    const utf8 = scan(["zürich", "東京"]).namesWire();
    expect(scan(["zürich", "東京"]).sameNamesAs(utf8)).toBe(true);
    expect(scan(["zürich", "東亰"]).sameNamesAs(utf8)).toBe(false);
  });
});

describe("scanDeltaRequest", () => {
  it("reads what protobuf-es wrote", () => {
    fc.assert(
      fc.property(
        fc.record({
          node: fc.option(node, { nil: undefined }),
          typeUrl: text,
          resourceNamesSubscribe: fc.array(text, { maxLength: 10 }),
          resourceNamesUnsubscribe: fc.array(text, { maxLength: 10 }),
          initialResourceVersions: fc.dictionary(text, text, { maxKeys: 10 }),
          responseNonce: text,
          errorDetail,
        }),
        (init) => {
          const msg = create(DeltaDiscoveryRequestSchema, init);
          const r = scanDeltaRequest(toBinary(DeltaDiscoveryRequestSchema, msg), WIDE);
          expect(r.problem).toBeUndefined();
          expect(r.typeUrl).toBe(msg.typeUrl);
          expect(r.responseNonce).toBe(msg.responseNonce);
          expect(r.subscribe()).toEqual(msg.resourceNamesSubscribe);
          expect(r.unsubscribe()).toEqual(msg.resourceNamesUnsubscribe);
          expect(Object.fromEntries(r.initialVersions())).toEqual(msg.initialResourceVersions);
          expect(r.nameCount).toBe(
            msg.resourceNamesSubscribe.length +
              msg.resourceNamesUnsubscribe.length +
              Object.keys(msg.initialResourceVersions).length,
          );
          expect(r.hasErrorDetail).toBe(msg.errorDetail !== undefined);
          expect(r.errorMessage()).toBe(msg.errorDetail?.message ?? "");
          const n = r.node();
          expect(n && toBinary(NodeSchema, n)).toEqual(msg.node && toBinary(NodeSchema, msg.node));
        },
      ),
      seeded({ seed: 11013, runs: 300, label: "delta scan = protobuf-es" }),
    );
  });

  it("counts initial_resource_versions as names and bounds their names and versions", () => {
    const initialResourceVersions = Object.fromEntries(Array.from({ length: 5 }, (_, i) => [`r${i}`, "v"]));
    const bytes = toBinary(
      DeltaDiscoveryRequestSchema,
      create(DeltaDiscoveryRequestSchema, { resourceNamesSubscribe: ["a"], initialResourceVersions }),
    );
    expect(
      (scanDeltaRequest(bytes, { maxNamesPerRequest: 5, maxNameBytes: 10 }).problem as LimitError).limit,
    ).toBe("maxNamesPerRequest");
    const longVersion = toBinary(
      DeltaDiscoveryRequestSchema,
      create(DeltaDiscoveryRequestSchema, { initialResourceVersions: { r: "v".repeat(11) } }),
    );
    expect(
      (scanDeltaRequest(longVersion, { maxNamesPerRequest: 5, maxNameBytes: 10 }).problem as LimitError)
        .limit,
    ).toBe("maxNameBytes");
  });

  it("skips fields it does not use, including unknown ones", () => {
    const msg = create(DeltaDiscoveryRequestSchema, {
      typeUrl: "t",
      resourceNamesSubscribe: ["a"],
      resourceLocatorsSubscribe: [{ name: "xdstp://x/y", dynamicParameters: { k: "v" } }],
    });
    const bytes = Buffer.concat([
      Buffer.from(toBinary(DeltaDiscoveryRequestSchema, msg)),
      // field 99, varint 7; field 100, fixed32
      Buffer.from([0x98, 0x06, 0x07, 0xa5, 0x06, 1, 2, 3, 4]),
    ]);
    const r = scanDeltaRequest(bytes, WIDE);
    expect(r.problem).toBeUndefined();
    expect(r.subscribe()).toEqual(["a"]);
    expect(r.typeUrl).toBe("t");
  });
});
