import { Module } from '@nestjs/common';
import { getStorageToken } from '@nestjs/throttler';
import { APP_CONFIG } from 'src/config/config.module';
import { AppConfig } from 'src/config/load-config';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { MemoryBucketStore } from 'src/modules/throttling/buckets/memory.bucket-store';
import { RedisBucketStore } from 'src/modules/throttling/buckets/redis.bucket-store';
import { RateLimitGuard } from 'src/modules/throttling/rate-limit.guard';
import { UsageModule } from 'src/modules/usage/usage.module';

/**
 * Per-key token buckets (SPEC "Rate limits and quotas"): `RateLimitGuard`, which the request
 * guard chain runs after authentication, before any work is done.
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
    RateLimitGuard,
  ],
  exports: [RateLimitGuard],
})
export class ThrottlingModule {}
