import { describe, expect, it } from "vitest";
import { parseTxtMetadata } from "../../src/endpoints/txt-metadata.js";

describe("TXT metadata", () => {
  it("reads key=value per record, joining a record's strings, last duplicate winning", () => {
    expect(
      parseTxtMetadata([
        { type: "TXT", strings: ["version=v", "2"], ttl: 1 },
        { type: "TXT", strings: ["team=a=b"], ttl: 1 },
        { type: "TXT", strings: ["canary=false"], ttl: 1 },
        { type: "TXT", strings: ["canary=true"], ttl: 1 },
        { type: "TXT", strings: ["empty="], ttl: 1 },
      ]),
    ).toEqual({ version: "v2", team: "a=b", canary: "true", empty: "" });
  });
  it("skips records without a key, without '=', oversized ones and non-TXT records", () => {
    expect(
      parseTxtMetadata([
        { type: "TXT", strings: ["=x"], ttl: 1 },
        { type: "TXT", strings: ["v=spf1 -all".replace("=", "")], ttl: 1 },
        { type: "TXT", strings: [`${"k".repeat(64)}=v`], ttl: 1 },
        { type: "TXT", strings: [`k=${"v".repeat(256)}`], ttl: 1 },
        { type: "A", address: "10.0.0.1", ttl: 1 },
      ]),
    ).toEqual({});
  });
});
