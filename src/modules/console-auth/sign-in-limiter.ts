const WINDOW_MS = 60_000;

/**
 * Sign-in attempts per client address over a sliding minute: at most `perMinute` attempts in
 * any 60 seconds, right or wrong. A sliding log rather than a token bucket, so the limit is
 * exact however slowly the attempts come (a bucket refilling during ten slow scrypt checks would
 * let an eleventh through). Memory is bounded: `perMinute` timestamps per address, and past
 * `maxAddresses` the addresses whose window has passed are dropped, then the oldest.
 */
export class SignInLimiter {
  private readonly attempts = new Map<string, number[]>();

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
    private readonly maxAddresses = 10_000,
  ) {}

  /**
   * Counts an attempt from `address` and returns 0, or, when the address has used up its
   * minute, counts nothing and returns the whole seconds until it may try again.
   */
  attempt(address: string): number {
    const now = this.now();
    const recent = (this.attempts.get(address) ?? []).filter((at) => at > now - WINDOW_MS);
    if (recent.length >= this.perMinute) {
      this.attempts.set(address, recent);
      return Math.max(1, Math.ceil((recent[0] + WINDOW_MS - now) / 1000));
    }
    if (!this.attempts.has(address) && this.attempts.size >= this.maxAddresses) {
      this.makeRoom(now);
    }
    recent.push(now);
    this.attempts.set(address, recent);
    return 0;
  }

  get size(): number {
    return this.attempts.size;
  }

  private makeRoom(now: number): void {
    for (const [address, times] of this.attempts) {
      if (times[times.length - 1] <= now - WINDOW_MS) {
        this.attempts.delete(address);
      }
    }
    let drop = this.attempts.size >= this.maxAddresses ? Math.ceil(this.maxAddresses / 10) : 0;
    for (const address of this.attempts.keys()) {
      if (drop-- <= 0) {
        break;
      }
      this.attempts.delete(address);
    }
  }
}
