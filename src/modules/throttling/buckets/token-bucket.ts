import { ThrottlerStorage } from '@nestjs/throttler';

/** What a `ThrottlerStorage` answers (the package does not export the type by name). */
export type ThrottlerStorageRecord = Awaited<ReturnType<ThrottlerStorage['increment']>>;

/**
 * Token-bucket arithmetic, shared by the memory store and mirrored line for line by the Redis
 * Lua script (`redis.bucket-store.ts`).
 *
 * Everything is an integer: tokens are counted in micro-tokens and time in milliseconds, and
 * the refill rate is micro-tokens per millisecond (= requests per second × 1000, so rates have
 * a resolution of 0.001/s). Integers below 2^53 are exact in doubles, in JavaScript and in
 * Redis's Lua alike, so the two implementations decide identically and no rounding drift can
 * ever admit a request the bucket does not hold.
 */
export const TOKEN = 1_000_000;

/** The longest wait reported in `x-ratelimit-reset`/`retry-after` (a bucket that never refills). */
export const MAX_WAIT_SECONDS = 86_400;

export interface BucketParams {
  /** Refill in micro-tokens per millisecond (integer; 0 = never refills). */
  rate: number;
  /** Bucket size in micro-tokens (burst × TOKEN). */
  capacity: number;
}

export interface BucketState {
  /** Micro-tokens in the bucket at `stamp`. */
  tokens: number;
  /** Milliseconds (clock of whoever decides: the process, or Redis's TIME). */
  stamp: number;
}

export interface TakeResult {
  allowed: boolean;
  state: BucketState;
}

/** A key's limits as configured: requests per second and bucket size. */
export interface BucketLimits {
  perSecond: number;
  burst: number;
}

export function paramsFromLimits(limits: BucketLimits): BucketParams {
  return { rate: Math.round(limits.perSecond * 1000), capacity: limits.burst * TOKEN };
}

/**
 * @nestjs/throttler describes a limit as `limit` hits per `ttl` milliseconds. Read as a token
 * bucket, that is a bucket of `limit` tokens refilling completely in `ttl` ms (an infinite
 * `ttl` never refills). `refillMsFor` is the inverse, so per-second rates survive the trip.
 */
export function paramsFromThrottler(limit: number, ttlMs: number): BucketParams {
  const rate = Number.isFinite(ttlMs) && ttlMs > 0 ? Math.round((limit * TOKEN) / ttlMs) : 0;
  return { rate, capacity: Math.floor(limit) * TOKEN };
}

/** The throttler `ttl` (ms to refill an empty bucket) for these limits; Infinity without refill. */
export function refillMsFor(limits: BucketLimits): number {
  return limits.perSecond > 0 ? (limits.burst * 1000) / limits.perSecond : Infinity;
}

/** The bucket at `now`: refilled for the time since `stamp`, never above capacity. */
export function refill(state: BucketState | undefined, now: number, p: BucketParams): BucketState {
  if (!state) {
    return { tokens: p.capacity, stamp: now };
  }
  const tokens = Math.min(p.capacity, state.tokens);
  if (now <= state.stamp) {
    // The clock went back (another instance's clock, an NTP step): wait for it to catch up.
    return { tokens, stamp: state.stamp };
  }
  // The product may exceed 2^53 after a long idle time, but then it exceeds capacity too.
  return { tokens: Math.min(p.capacity, tokens + (now - state.stamp) * p.rate), stamp: now };
}

/** Takes one token if the bucket holds one. */
export function takeToken(
  state: BucketState | undefined,
  now: number,
  p: BucketParams,
): TakeResult {
  const current = refill(state, now, p);
  if (current.tokens >= TOKEN) {
    return { allowed: true, state: { tokens: current.tokens - TOKEN, stamp: current.stamp } };
  }
  return { allowed: false, state: current };
}

/** Milliseconds until the bucket holds `target` micro-tokens again (Infinity if never). */
export function msUntil(tokens: number, target: number, p: BucketParams): number {
  if (tokens >= target) {
    return 0;
  }
  return p.rate > 0 ? Math.ceil((target - tokens) / p.rate) : Infinity;
}

function wholeSeconds(ms: number): number {
  return Math.min(MAX_WAIT_SECONDS, Math.ceil(ms / 1000));
}

/**
 * A decision in @nestjs/throttler's terms, which the guard turns into headers:
 * - `totalHits`: `limit - remaining`, so the stock guard's `remaining = limit - totalHits` holds;
 * - `timeToExpire`: whole seconds until the bucket is full again (`x-ratelimit-reset`);
 * - `timeToBlockExpire`: when refused, whole seconds until one token is back (`retry-after`,
 *   at least 1, never 0).
 */
export function toThrottlerRecord(
  allowed: boolean,
  tokens: number,
  p: BucketParams,
): ThrottlerStorageRecord {
  const limit = p.capacity / TOKEN;
  const remaining = Math.floor(tokens / TOKEN);
  return {
    totalHits: limit - remaining,
    timeToExpire: wholeSeconds(msUntil(tokens, p.capacity, p)),
    isBlocked: !allowed,
    timeToBlockExpire: allowed ? 0 : Math.max(1, wholeSeconds(msUntil(tokens, TOKEN, p))),
  };
}
