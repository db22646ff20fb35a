// The shared per-try timer of the UDP transport: tries expire in deadline order whatever order they
// were queued in, a settled try never expires, and an emptied queue holds no timer (a finished lookup
// must not keep the process alive until a stale deadline). Fake timers and the queue's injectable clock
// make every step exact: no real-time margins that a loaded box could eat.
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
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

beforeEach(() => {
  vi.useFakeTimers();
});
afterEach(() => {
  vi.useRealTimers();
});

const queue = () => new DeadlineQueue(() => Date.now());

describe("deadline queue", () => {
  it("expires entries in deadline order, skipping removed ones", () => {
    const log: string[] = [];
    const q = queue();
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
    vi.advanceTimersByTime(29);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(["fast"]);
    vi.advanceTimersByTime(30);
    expect(log).toEqual(["fast", "mid"]);
    vi.advanceTimersByTime(59);
    expect(log).toEqual(["fast", "mid"]);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(["fast", "mid", "slow"]);
    expect(q.size).toBe(0);
    expect(vi.getTimerCount()).toBe(0);
  });

  it("re-adding an entry moves its deadline instead of queueing it twice", () => {
    const log: string[] = [];
    const q = queue();
    const e = entry("e", log);
    q.add(e, 20);
    q.add(e, 80);
    expect(q.size).toBe(1);
    vi.advanceTimersByTime(79);
    expect(log).toEqual([]);
    vi.advanceTimersByTime(1);
    expect(log).toEqual(["e"]);
    vi.advanceTimersByTime(1000);
    expect(log).toEqual(["e"]);
  });

  it("an emptied or cleared queue leaves no timer behind", () => {
    const log: string[] = [];
    const q = queue();
    const a = entry("a", log);
    const b = entry("b", log);
    q.add(a, 30);
    q.add(b, 40);
    expect(vi.getTimerCount()).toBe(1);
    q.remove(a);
    q.remove(b);
    expect(vi.getTimerCount()).toBe(0);
    q.add(a, 30);
    q.clear();
    expect(vi.getTimerCount()).toBe(0);
    vi.advanceTimersByTime(1000);
    expect(log).toEqual([]);
    expect(q.size).toBe(0);
  });
});
