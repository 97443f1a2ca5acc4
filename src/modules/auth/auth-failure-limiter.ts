import { addressKey } from 'src/common/http/client-address';

interface Budget {
  tokens: number;
  at: number;
}

/**
 * Failed authentications per client address, as a token bucket: `perMinute` failures, refilled
 * continuously (one every 60/perMinute seconds). IPv6 addresses count by their /64
 * (`addressKey`). In memory and bounded (#22 item 8):
 * - past `maxAddresses`, the least recently used address that is not blocked is dropped (a
 *   flood of new failing addresses cannot make the limiter forget one it is blocking);
 * - blocked addresses are kept, up to twice `maxAddresses` in all; only beyond that (every
 *   entry blocked) does the least recently used blocked one go.
 */
export class AuthFailureLimiter {
  /** In least-recently-used-first order: every use re-inserts its entry at the end. */
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
    const key = addressKey(address);
    const budget = this.budgets.get(key);
    if (!budget) {
      return 0;
    }
    this.touch(key, budget);
    const tokens = this.tokensAt(budget, this.now());
    return tokens >= 1 ? 0 : Math.max(1, Math.ceil((1 - tokens) / this.perMs / 1000));
  }

  recordFailure(address: string): void {
    const key = addressKey(address);
    const now = this.now();
    const budget = this.budgets.get(key);
    if (budget) {
      budget.tokens = Math.max(0, this.tokensAt(budget, now) - 1);
      budget.at = now;
      this.touch(key, budget);
      return;
    }
    if (this.budgets.size >= this.maxAddresses) {
      this.makeRoom(now);
    }
    this.budgets.set(key, { tokens: this.perMinute - 1, at: now });
  }

  get size(): number {
    return this.budgets.size;
  }

  private touch(key: string, budget: Budget): void {
    this.budgets.delete(key);
    this.budgets.set(key, budget);
  }

  private tokensAt(budget: Budget, now: number): number {
    return Math.min(this.perMinute, budget.tokens + (now - budget.at) * this.perMs);
  }

  /** Drops the least recently used address that is not blocked (see the class comment). */
  private makeRoom(now: number): void {
    let left = this.budgets.size;
    for (const [key, budget] of this.budgets) {
      if (left-- <= 0) {
        break;
      }
      if (this.tokensAt(budget, now) >= 1) {
        this.budgets.delete(key);
        return;
      }
      // Blocked: kept, and moved behind the others so the next search starts past it.
      this.touch(key, budget);
    }
    if (this.budgets.size >= 2 * this.maxAddresses) {
      const oldest = this.budgets.keys().next().value;
      if (oldest !== undefined) {
        this.budgets.delete(oldest);
      }
    }
  }
}
