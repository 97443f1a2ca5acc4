import { Clock, systemClock } from 'src/common/time/clock';
import { PeriodicTask } from 'src/common/time/periodic-task';
import { ThrottlerStorage } from '@nestjs/throttler';
import {
  BucketParams,
  BucketState,
  msUntil,
  paramsFromThrottler,
  takeToken,
  ThrottlerStorageRecord,
  toThrottlerRecord,
} from 'src/modules/throttling/buckets/token-bucket';

interface StoredBucket extends BucketState {
  /** When the bucket is full again if nobody takes from it: then it equals a fresh one. */
  fullAt: number;
}

export interface MemoryBucketStoreOptions {
  clock?: Clock;
  /** Hard bound on the number of buckets held (default 100,000). */
  maxBuckets?: number;
  /** How often idle buckets are looked for (default 60 s; 0 = only when the bound is hit). */
  sweepIntervalMs?: number;
}

/**
 * Token buckets in this process's memory: the default store, and the local fallback of the
 * Redis store. Memory stays bounded: a bucket that has refilled completely is the same as no
 * bucket, so a periodic sweep drops it without changing any decision; past `maxBuckets`, the
 * least recently created buckets go (they start over full, the only lossy case).
 */
export class MemoryBucketStore implements ThrottlerStorage {
  private readonly buckets = new Map<string, StoredBucket>();
  private readonly clock: Clock;
  private readonly maxBuckets: number;
  /** `sweep` is arithmetic on the map: it cannot fail. */
  private readonly sweeps: PeriodicTask | null;

  constructor(options: MemoryBucketStoreOptions = {}) {
    this.clock = options.clock ?? systemClock;
    this.maxBuckets = options.maxBuckets ?? 100_000;
    const every = options.sweepIntervalMs ?? 60_000;
    this.sweeps =
      every > 0
        ? new PeriodicTask(() => this.sweep(), { everyMs: every, onError: () => undefined })
        : null;
    this.sweeps?.start();
  }

  /** Takes one token from `key`'s bucket, synchronously. Returns the micro-tokens left. */
  take(key: string, p: BucketParams): { allowed: boolean; tokens: number } {
    const now = this.clock();
    const stored = this.buckets.get(key);
    const { allowed, state } = takeToken(stored, now, p);
    const fullAt = state.stamp + msUntil(state.tokens, p.capacity, p);
    if (stored) {
      stored.tokens = state.tokens;
      stored.stamp = state.stamp;
      stored.fullAt = fullAt;
    } else {
      if (this.buckets.size >= this.maxBuckets) {
        this.evict();
      }
      this.buckets.set(key, { ...state, fullAt });
    }
    return { allowed, tokens: state.tokens };
  }

  increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    const p = paramsFromThrottler(limit, ttl);
    const { allowed, tokens } = this.take(key, p);
    return Promise.resolve(toThrottlerRecord(allowed, tokens, p));
  }

  get size(): number {
    return this.buckets.size;
  }

  /** Drops every bucket that has refilled completely by now. */
  sweep(): void {
    const now = this.clock();
    for (const [key, bucket] of this.buckets) {
      if (bucket.fullAt <= now) {
        this.buckets.delete(key);
      }
    }
  }

  close(): void {
    void this.sweeps?.stop();
  }

  onApplicationShutdown(): void {
    this.close();
  }

  private evict(): void {
    this.sweep();
    if (this.buckets.size < this.maxBuckets) {
      return;
    }
    // Still full of busy buckets: drop the oldest tenth (Map iterates in insertion order).
    let excess = this.buckets.size - this.maxBuckets + Math.ceil(this.maxBuckets / 10);
    for (const key of this.buckets.keys()) {
      if (excess-- <= 0) {
        break;
      }
      this.buckets.delete(key);
    }
  }
}
