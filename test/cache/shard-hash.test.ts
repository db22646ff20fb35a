/** Ownership hashing: shards spread evenly, and a member leaving moves only its own shards. */
import { describe, expect, it } from "vitest";
import { rendezvousOwner, shardOf } from "../../src/cache/shard-hash.js";

describe("shard hashing", () => {
  it("spreads keys over shards roughly evenly", () => {
    const counts = new Array<number>(64).fill(0);
    for (let i = 0; i < 64_000; i++) {
      const s = shardOf(`A/svc-${i}.example.test.`, 64);
      counts[s] = (counts[s] ?? 0) + 1;
    }
    expect(Math.min(...counts)).toBeGreaterThan(800);
    expect(Math.max(...counts)).toBeLessThan(1200);
  });

  it("moves only the departed member's shards (rendezvous)", () => {
    const three = ["r0", "r1", "r2"];
    const two = ["r0", "r2"];
    const perMember = new Map<string, number>();
    for (let shard = 0; shard < 256; shard++) {
      const before = rendezvousOwner(shard, three);
      const after = rendezvousOwner(shard, two);
      if (before !== "r1") expect(after).toBe(before);
      if (before) perMember.set(before, (perMember.get(before) ?? 0) + 1);
    }
    for (const m of three) expect(perMember.get(m) ?? 0).toBeGreaterThan(50);
    expect(rendezvousOwner(0, [])).toBeUndefined();
  });
});
