import { Global, Module } from '@nestjs/common';
import { USAGE_SINK } from 'src/common/types/usage-sink';
import { QuotaGuard } from 'src/modules/usage/quota.guard';
import { QuotaService } from 'src/modules/usage/quota.service';
import { USAGE_CLOCK, UsageClock } from 'src/modules/usage/usage-clock';
import { UsageRecorder } from 'src/modules/usage/usage-recorder.service';
import { KeyUsageController, UsageController } from 'src/modules/usage/usage.controller';
import { UsageRepository } from 'src/modules/usage/usage.repository';
import { UsageService } from 'src/modules/usage/usage.service';

/**
 * Token usage per key, model and day: `USAGE_SINK` (global, for the proxy), quotas, and the
 * usage routes. `QuotaGuard` is exported for the request guard chain (AccessModule), which runs
 * it right after the rate limit.
 */
@Global()
@Module({
  controllers: [UsageController, KeyUsageController],
  providers: [
    { provide: USAGE_CLOCK, useValue: (() => Date.now()) satisfies UsageClock },
    UsageRepository,
    UsageRecorder,
    { provide: USAGE_SINK, useExisting: UsageRecorder },
    QuotaService,
    QuotaGuard,
    UsageService,
  ],
  exports: [USAGE_SINK, QuotaGuard, QuotaService],
})
export class UsageModule {}
