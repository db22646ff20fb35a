/**
 * The binary turns V8's allocation-site pretenuring off (src/cli/heap-tuning.ts says why), unless the
 * user set that flag themselves, in any of V8's spellings: then their setting stands.
 */
import { describe, expect, it } from "vitest";
import { pretenuringFlag } from "../../src/cli/heap-tuning.js";

describe("pretenuringFlag", () => {
  it("turns pretenuring off when node was given no say on it", () => {
    expect(pretenuringFlag([], undefined)).toBe("--no-allocation-site-pretenuring");
    expect(pretenuringFlag(["--enable-source-maps"], "--max-old-space-size=512")).toBe(
      "--no-allocation-site-pretenuring",
    );
  });

  it("leaves a user's own setting alone, from the command line or NODE_OPTIONS, in any spelling", () => {
    for (const arg of [
      "--allocation-site-pretenuring",
      "--allocation_site_pretenuring",
      "--no-allocation-site-pretenuring",
      "--noallocation-site-pretenuring",
      "--no_allocation_site_pretenuring",
      "--allocation-site-pretenuring=true",
    ]) {
      expect(pretenuringFlag([arg], undefined), arg).toBeUndefined();
      expect(pretenuringFlag([], `--max-old-space-size=512  ${arg}`), `NODE_OPTIONS ${arg}`).toBeUndefined();
    }
  });

  it("is not fooled by a flag that only contains the name", () => {
    expect(pretenuringFlag(["--trace-allocation-site-pretenuring"], undefined)).toBe(
      "--no-allocation-site-pretenuring",
    );
  });
});
