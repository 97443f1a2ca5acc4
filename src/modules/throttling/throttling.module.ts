import { Module } from '@nestjs/common';
import { APP_GUARD } from '@nestjs/core';
import { getStorageToken } from '@nestjs/throttler';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { MemoryBucketStore } from 'src/modules/throttling/buckets/memory.bucket-store';
import { RedisBucketStore } from 'src/modules/throttling/buckets/redis.bucket-store';
import { RateLimitGuard } from 'src/modules/throttling/rate-limit.guard';
import { QuotaGuard } from 'src/modules/usage/quota.guard';
import { UsageModule } from 'src/modules/usage/usage.module';

/**
 * Per-key token buckets and token quotas (SPEC "Rate limits and quotas"): the two global
 * guards that refuse a request before any work is done, registered after the API-key guard.
 * The throttler storage is provided here, not through the global `ThrottlerModule`, so that
 * another throttler in the app cannot swap it.
 */
@Module({
  imports: [UsageModule],
  providers: [
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
    // In this order: a rate-limited request is refused before the quota is even looked at.
    { provide: APP_GUARD, useClass: RateLimitGuard },
    { provide: APP_GUARD, useExisting: QuotaGuard },
  ],
})
export class ThrottlingModule {}
