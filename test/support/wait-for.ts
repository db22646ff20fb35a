/**
 * Test helper: polls `fn` until it returns a value other than undefined, bounded in time and tries, and
 * names what it waited for (with the last error) when it gives up. For tests that watch a process only
 * through its admin endpoints.
 */
export async function waitFor<T>(
  what: string,
  ms: number,
  fn: () => Promise<T | undefined>,
  everyMs = 100,
): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (let i = 0; i < 10_000 && Date.now() < deadline; i++) {
    try {
      const v = await fn();
      if (v !== undefined) return v;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/** Polls `cond` every 25 ms until it holds; otherwise like `waitFor`. */
export async function until(
  cond: () => boolean | Promise<boolean>,
  timeoutMs: number,
  what: string,
): Promise<void> {
  await waitFor(what, timeoutMs, async () => ((await cond()) ? true : undefined), 25);
}
