/**
 * A token bucket with the rate and burst passed on each call, so a reloaded limit applies at once and
 * one bucket costs two numbers (it exists per stream).
 */
export class TokenBucket {
  private tokens: number;
  private at: number;

  constructor(burst: number, now: number) {
    this.tokens = burst;
    this.at = now;
  }

  /** Takes one token if there is one; refills at `perSecond` up to `burst`. */
  take(now: number, perSecond: number, burst: number): boolean {
    const elapsed = now - this.at;
    if (elapsed > 0) {
      this.tokens = Math.min(burst, this.tokens + (elapsed * perSecond) / 1000);
      this.at = now;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}
