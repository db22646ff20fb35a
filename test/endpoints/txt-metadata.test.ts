import { describe, expect, it } from "vitest";
import { parseTxtMetadata } from "../../src/endpoints/txt-metadata.js";

const txt = (...strings: string[]) => ({ type: "TXT" as const, strings, ttl: 1 });

describe("TXT metadata", () => {
  it("RFC 1464: one key=value per record, a record's split strings joined, last duplicate winning", () => {
    expect(
      parseTxtMetadata([
        txt("version=v", "2"),
        txt("team=a=b"),
        txt("canary=false"),
        txt("canary=true"),
        txt("empty="),
      ]),
    ).toEqual({ version: "v2", team: "a=b", canary: "true", empty: "" });
  });

  it("DNS-SD (RFC 6763 §6): a record whose strings each hold '=' gives one pair per string", () => {
    // The demo zone's record: joined it used to read as version = "v1team=demo".
    expect(parseTxtMetadata([txt("version=v1", "team=demo")])).toEqual({ version: "v1", team: "demo" });
    expect(parseTxtMetadata([txt("a=1", "b=", "c=x=y")])).toEqual({ a: "1", b: "", c: "x=y" });
  });

  it("DNS-SD: the first occurrence of a key in a record counts; a later record still overrides", () => {
    expect(parseTxtMetadata([txt("k=first", "k=second")])).toEqual({ k: "first" });
    expect(parseTxtMetadata([txt("k=first", "k=second"), txt("k=later")])).toEqual({ k: "later" });
  });

  it("both forms side by side, and a split value whose second piece has no '=' stays one pair", () => {
    expect(
      parseTxtMetadata([txt("zone=z1", "tier=gold"), txt("owner=payments"), txt("url=http://x/?a=", "b")]),
    ).toEqual({ zone: "z1", tier: "gold", owner: "payments", url: "http://x/?a=b" });
  });

  it("skips records without a key, without '=', oversized ones and non-TXT records", () => {
    expect(
      parseTxtMetadata([
        txt("=x"),
        txt("v spf1 -all"),
        txt(`${"k".repeat(64)}=v`),
        txt(`k=${"v".repeat(256)}`),
        txt("ok=1", `${"k".repeat(64)}=v`, "=y"),
        { type: "A", address: "10.0.0.1", ttl: 1 },
      ]),
    ).toEqual({ ok: "1" });
  });
});
