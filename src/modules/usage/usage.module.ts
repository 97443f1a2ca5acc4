import { ClockModule } from 'src/common/time/clock.module';
import { Global, Module } from '@nestjs/common';
import { USAGE_SINK } from 'src/common/types/usage-sink';
import { ModelsModule } from 'src/modules/models/models.module';
import { QuotaGuard } from 'src/modules/usage/quota.guard';
import { QuotaReservations } from 'src/modules/usage/quota-reservations.service';
import { QuotaReservationsRepository } from 'src/modules/usage/quota-reservations.repository';
import { QuotaService } from 'src/modules/usage/quota.service';
import { UtcDays } from 'src/modules/usage/usage-period';
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
  // The model catalog sizes quota reservations (a request's maximum tokens).
  imports: [ClockModule, ModelsModule],
  controllers: [UsageController, KeyUsageController],
  providers: [
    UtcDays,
    UsageRepository,
    UsageRecorder,
    { provide: USAGE_SINK, useExisting: UsageRecorder },
    QuotaService,
    QuotaReservationsRepository,
    QuotaReservations,
    QuotaGuard,
    UsageService,
  ],
  exports: [USAGE_SINK, QuotaGuard, QuotaService],
})
export class UsageModule {}
