import { systemClock } from 'src/common/time/clock';
import { Logger } from '@nestjs/common';
import { ThrottlerStorage } from '@nestjs/throttler';
import Redis from 'ioredis';
import { MemoryBucketStore } from 'src/modules/throttling/buckets/memory.bucket-store';
import {
  BucketParams,
  paramsFromThrottler,
  TOKEN,
  ThrottlerStorageRecord,
  toThrottlerRecord,
} from 'src/modules/throttling/buckets/token-bucket';

/**
 * One decision, atomically, in Redis: the same integer arithmetic as `token-bucket.ts`.
 * KEYS[1] the bucket (a hash: tokens, stamp). ARGV: rate (µ-tokens per ms), capacity
 * (µ-tokens), cost (µ-tokens), and optionally `now` in ms (tests); otherwise Redis's own TIME,
 * so every gateway instance shares one clock. Returns {allowed (1|0), µ-tokens left}.
 * Numbers are written with %.0f: Lua's default formatting keeps only 14 digits.
 * A refusal writes nothing (refill is linear, so recomputing it later gives the same result).
 * The key expires when the bucket would be full again, which is the same as no key.
 */
export const TAKE_TOKEN_LUA = `
local rate = tonumber(ARGV[1])
local capacity = tonumber(ARGV[2])
local cost = tonumber(ARGV[3])
local now = tonumber(ARGV[4])
if not now then
  local t = redis.call('TIME')
  now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
end
local tokens = capacity
local stamp = now
local saved = redis.call('HMGET', KEYS[1], 'tokens', 'stamp')
if saved[1] and saved[2] then
  tokens = math.min(capacity, tonumber(saved[1]))
  stamp = tonumber(saved[2])
  if now > stamp then
    tokens = math.min(capacity, tokens + (now - stamp) * rate)
    stamp = now
  end
end
if tokens < cost then
  return {0, tokens}
end
tokens = tokens - cost
redis.call('HSET', KEYS[1], 'tokens', string.format('%.0f', tokens), 'stamp', string.format('%.0f', stamp))
if rate > 0 then
  redis.call('PEXPIRE', KEYS[1], math.ceil((capacity - tokens) / rate))
else
  redis.call('PERSIST', KEYS[1])
end
return {1, tokens}
`;

type TakeTokenCommand = (
  key: string,
  rate: number,
  capacity: number,
  cost: number,
  now: string,
) => Promise<[number, number]>;

export interface RedisBucketStoreOptions {
  url: string;
  keyPrefix: string;
  commandTimeoutMs: number;
  /** Called for every decision taken on the local bucket because Redis did not answer. */
  onFallback?: () => void;
  /** The local fallback (tests inject one with a clock). */
  local?: MemoryBucketStore;
}

export interface RedisTakeResult {
  allowed: boolean;
  tokens: number;
  source: 'redis' | 'local';
}

/**
 * While Redis is away, a background PING this often tells when it is back. Requests never
 * wait for Redis in the meantime (#22 item 11: a SIGSTOPped Redis, retried by live requests
 * every second, cost each retry the whole command timeout and most of the throughput).
 */
const PROBE_EVERY_MS = 1_000;

/**
 * Token buckets in Redis, shared by every gateway instance: one EVALSHA per decision.
 *
 * Redis down or slow: fail open on a local bucket. Each instance then enforces the key's
 * limit on its own (so N instances admit at most N × the limit) until Redis answers again,
 * and every such decision is counted (`parley_ratelimit_redis_fallbacks_total`). Refusing all
 * traffic because the rate limiter's cache is away would turn a Redis outage into a gateway
 * outage. The client never makes a request wait: no offline queue (a command while
 * disconnected fails at once), a short command timeout, no retries; it reconnects by itself.
 * After one failure (a refused connection, or a command past REDIS_COMMAND_TIMEOUT_MS: a hung
 * server), every decision is local until a background PING, once a second, answers in time.
 */
export class RedisBucketStore implements ThrottlerStorage {
  readonly redis: Redis;
  private readonly takeToken: TakeTokenCommand;
  private readonly local: MemoryBucketStore;
  private readonly logger = new Logger('RateLimit');
  private isDegraded = false;
  private probe: NodeJS.Timeout | null = null;
  private isClosed = false;

  constructor(private readonly options: RedisBucketStoreOptions) {
    this.local = options.local ?? new MemoryBucketStore();
    this.redis = new Redis(options.url, {
      enableOfflineQueue: false,
      maxRetriesPerRequest: 0,
      commandTimeout: options.commandTimeoutMs,
      connectTimeout: Math.max(1_000, options.commandTimeoutMs),
      enableAutoPipelining: true,
      retryStrategy: (attempt) => Math.min(attempt * 100, 2_000),
    });
    this.redis.on('error', (error: Error) => this.degrade(error));
    this.redis.defineCommand('parleyTakeToken', { numberOfKeys: 1, lua: TAKE_TOKEN_LUA });
    const commands = this.redis as unknown as { parleyTakeToken: TakeTokenCommand };
    this.takeToken = commands.parleyTakeToken.bind(this.redis);
  }

  keyFor(bucket: string): string {
    return `${this.options.keyPrefix}ratelimit:${bucket}`;
  }

  async take(bucket: string, p: BucketParams, now?: number): Promise<RedisTakeResult> {
    if (this.redis.status === 'ready' && !this.isDegraded) {
      try {
        const [allowed, tokens] = await this.takeToken(
          this.keyFor(bucket),
          p.rate,
          p.capacity,
          TOKEN,
          now === undefined ? '' : String(now),
        );
        return { allowed: allowed === 1, tokens: Number(tokens), source: 'redis' };
      } catch (error) {
        this.degrade(error as Error);
      }
    }
    this.options.onFallback?.();
    return { ...this.local.take(bucket, p), source: 'local' };
  }

  async increment(key: string, ttl: number, limit: number): Promise<ThrottlerStorageRecord> {
    const p = paramsFromThrottler(limit, ttl);
    const { allowed, tokens } = await this.take(key, p);
    return toThrottlerRecord(allowed, tokens, p);
  }

  async close(): Promise<void> {
    this.isClosed = true;
    this.stopProbe();
    this.local.close();
    if (this.redis.status === 'end') {
      return;
    }
    try {
      await this.redis.quit();
    } catch {
      this.redis.disconnect();
    }
  }

  /**
   * At start, waits (briefly) for the connection, so the first requests are already shared.
   * Redis still away after `timeoutMs`: the gateway starts anyway, on local buckets.
   */
  async onApplicationBootstrap(timeoutMs = 2_000): Promise<void> {
    const deadline = systemClock() + timeoutMs;
    while (this.redis.status !== 'ready' && systemClock() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
    if (this.redis.status !== 'ready') {
      this.degrade(new Error(`not connected after ${timeoutMs} ms`));
    }
  }

  onApplicationShutdown(): Promise<void> {
    return this.close();
  }

  /** True while decisions are taken locally (Redis failed and no probe has answered since). */
  get isLocal(): boolean {
    return this.isDegraded;
  }

  private degrade(error: Error): void {
    if (!this.isDegraded && !this.isClosed) {
      this.isDegraded = true;
      this.logger.warn(
        `Redis unavailable (${error.message}): rate limits are enforced per instance until it answers`,
      );
    }
    this.scheduleProbe();
  }

  private scheduleProbe(): void {
    if (this.probe || this.isClosed) {
      return;
    }
    this.probe = setTimeout(() => void this.runProbe(), PROBE_EVERY_MS);
    this.probe.unref();
  }

  /** One PING at a time; Redis is used again only once one answers within the timeout. */
  private async runProbe(): Promise<void> {
    try {
      if (this.redis.status === 'ready') {
        await this.redis.ping();
        this.probe = null;
        if (this.isDegraded && !this.isClosed) {
          this.isDegraded = false;
          this.logger.log('Redis answers again: rate limits are shared again');
        }
        return;
      }
    } catch {
      // Still away: probe again.
    }
    this.probe = null;
    this.scheduleProbe();
  }

  private stopProbe(): void {
    if (this.probe) {
      clearTimeout(this.probe);
      this.probe = null;
    }
  }
}
