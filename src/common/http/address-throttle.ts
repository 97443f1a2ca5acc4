import { LRUCache } from 'lru-cache';
import { addressKey } from 'src/common/http/client-address';
import { Clock, systemClock } from 'src/common/time/clock';

interface Bucket {
  tokens: number;
  at: number;
}

/**
 * A token bucket per client address (IPv6 by /64, see `addressKey`) for routes that must stay
 * cheap whoever calls them (`/metrics`, #22 item 4): `burst` requests at once, `perSecond`
 * refilled. In memory and bounded to `maxAddresses`, least recently used dropped first (a
 * dropped address starts again with a full bucket, which only ever errs toward serving).
 */
export class AddressThrottle {
  private readonly buckets: LRUCache<string, Bucket>;

  constructor(
    private readonly perSecond: number,
    private readonly burst: number,
    private readonly now: Clock = systemClock,
    maxAddresses = 10_000,
  ) {
    this.buckets = new LRUCache<string, Bucket>({ max: maxAddresses });
  }

  /** Takes one request from the address's bucket: 0 when allowed, else whole seconds to wait. */
  take(address: string): number {
    const key = addressKey(address);
    const now = this.now();
    let bucket = this.buckets.get(key);
    if (!bucket) {
      bucket = { tokens: this.burst, at: now };
      this.buckets.set(key, bucket);
    }
    bucket.tokens = Math.min(
      this.burst,
      bucket.tokens + ((now - bucket.at) * this.perSecond) / 1000,
    );
    bucket.at = now;
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1;
      return 0;
    }
    return Math.max(1, Math.ceil((1 - bucket.tokens) / this.perSecond));
  }
}
