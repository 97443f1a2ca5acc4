interface Budget {
  tokens: number;
  at: number;
}

/**
 * Failed authentications per client address, as a token bucket: `perMinute` failures, refilled
 * continuously (one every 60/perMinute seconds). In memory and bounded: past `maxAddresses`,
 * addresses whose budget is full again are dropped, then the oldest.
 */
export class AuthFailureLimiter {
  private readonly budgets = new Map<string, Budget>();
  private readonly perMs: number;

  constructor(
    private readonly perMinute: number,
    private readonly now: () => number,
    private readonly maxAddresses = 10_000,
  ) {
    this.perMs = perMinute / 60_000;
  }

  /** Whole seconds until this address may fail again; 0 when it may try now. */
  retryAfterSeconds(address: string): number {
    const budget = this.budgets.get(address);
    if (!budget) {
      return 0;
    }
    const tokens = this.tokensAt(budget, this.now());
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000));
  }

  recordFailure(address: string): void {
    const now = this.now();
    const budget = this.budgets.get(address);
    if (budget) {
      budget.tokens = Math.max(0, this.tokensAt(budget, now) - 1);
      budget.at = now;
      return;
    }
    if (this.budgets.size >= this.maxAddresses) {
      this.makeRoom(now);
    }
    this.budgets.set(address, { tokens: this.perMinute - 1, at: now });
  }

  get size(): number {
    return this.budgets.size;
  }

  private tokensAt(budget: Budget, now: number): number {
    return Math.min(this.perMinute, budget.tokens + (now - budget.at) * this.perMs);
  }

  private makeRoom(now: number): void {
    for (const [address, budget] of this.budgets) {
      if (this.tokensAt(budget, now) >= this.perMinute) {
        this.budgets.delete(address);
      }
    }
    // Still full of addresses that are failing right now: drop the oldest tenth at once, so
    // a flood of new addresses does not rescan the map on every insert.
    if (this.budgets.size >= this.maxAddresses) {
      let drop = Math.max(1, Math.floor(this.maxAddresses / 10));
      for (const address of this.budgets.keys()) {
        if (drop-- <= 0) {
          break;
        }
        this.budgets.delete(address);
      }
    }
  }
}
