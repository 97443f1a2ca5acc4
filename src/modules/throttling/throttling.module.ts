import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { getOptionsToken, getStorageToken } from '@nestjs/throttler';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { MemoryBucketStore } from 'src/modules/throttling/buckets/memory.bucket-store';
import { RedisBucketStore } from 'src/modules/throttling/buckets/redis.bucket-store';
import { RateLimitGuard, throttlerOptions } from 'src/modules/throttling/rate-limit.guard';

/**
 * Per-key token buckets (SPEC "Rate limits and quotas"). The throttler's options and storage
 * are provided here, not through the global `ThrottlerModule`, so that another throttler in the
 * app (the auth module's failed-login limit) cannot swap them.
 */
@Module({
  providers: [
    { provide: getOptionsToken(), inject: [APP_CONFIG], useFactory: throttlerOptions },
    {
      provide: getStorageToken(),
      inject: [APP_CONFIG, MetricsService],
      useFactory: (config: AppConfig, metrics: MetricsService) =>
        config.redis.url
          ? new RedisBucketStore({
              url: config.redis.url,
              keyPrefix: config.redis.keyPrefix,
              commandTimeoutMs: config.redis.commandTimeoutMs,
              onFallback: () => metrics.redisFallbacks.inc(),
            })
          : new MemoryBucketStore(),
    },
    { provide: APP_GUARD, useClass: RateLimitGuard },
  ],
})
export class ThrottlingModule {}
