// The shared per-try timer of the UDP transport: tries expire in deadline order whatever order they
// were queued in, a settled try never expires, and an emptied queue holds no timer (a finished lookup
// must not keep the process alive until a stale deadline).
import { describe, expect, it } from "vitest";
import { type DeadlineEntry, DeadlineQueue } from "../../src/dns/deadline-queue.js";

function entry(name: string, log: string[]): DeadlineEntry {
  return {
    deadline: 0,
    dqPrev: null,
    dqNext: null,
    dqQueued: false,
    expire: () => log.push(name),
  };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe("deadline queue", () => {
  it("expires entries in deadline order, skipping removed ones", async () => {
    const log: string[] = [];
    const q = new DeadlineQueue();
    const slow = entry("slow", log);
    const fast = entry("fast", log);
    const mid = entry("mid", log);
    const gone = entry("gone", log);
    q.add(slow, 120);
    q.add(gone, 20);
    q.add(fast, 30);
    q.add(mid, 60);
    q.remove(gone);
    expect(q.size).toBe(3);
    await sleep(45);
    expect(log).toEqual(["fast"]);
    await sleep(150);
    expect(log).toEqual(["fast", "mid", "slow"]);
    expect(q.size).toBe(0);
  });

  it("re-adding an entry moves its deadline instead of queueing it twice", async () => {
    const log: string[] = [];
    const q = new DeadlineQueue();
    const e = entry("e", log);
    q.add(e, 20);
    q.add(e, 80);
    expect(q.size).toBe(1);
    await sleep(50);
    expect(log).toEqual([]);
    await sleep(80);
    expect(log).toEqual(["e"]);
  });

  it("an emptied or cleared queue leaves no timer behind", async () => {
    const log: string[] = [];
    const q = new DeadlineQueue();
    const a = entry("a", log);
    const b = entry("b", log);
    q.add(a, 30);
    q.add(b, 40);
    const timersWith = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    q.remove(a);
    q.remove(b);
    const timersWithout = process.getActiveResourcesInfo().filter((r) => r === "Timeout").length;
    expect(timersWithout).toBe(timersWith - 1);
    q.add(a, 30);
    q.clear();
    await sleep(60);
    expect(log).toEqual([]);
    expect(q.size).toBe(0);
  });
});
