import { ApiProperty } from '@nestjs/swagger';
import { EnumField, NumberField } from 'src/common/validation/fields';
import { QuotaPeriod } from 'src/modules/auth/api-key.entity';

export const QUOTA_PERIODS: readonly QuotaPeriod[] = ['day', 'month', 'total'];

/** A per-key token bucket replacing RATE_LIMIT_PER_SECOND / RATE_LIMIT_BURST. */
export class RateLimitDto {
  @ApiProperty({ description: 'Refill, in requests per second (0 = no refill)', example: 2 })
  @NumberField({ required: true, min: 0, max: 1_000_000, label: 'rate_limit.per_second' })
  per_second: number;

  @ApiProperty({ description: 'Bucket size: the largest burst of requests', example: 60 })
  @NumberField({
    required: true,
    integer: true,
    min: 1,
    max: 1_000_000_000,
    label: 'rate_limit.burst',
  })
  burst: number;
}

/** Tokens (prompt + completion) a key may use per period. */
export class TokenQuotaDto {
  @ApiProperty({ example: 1_000_000 })
  @NumberField({
    required: true,
    integer: true,
    min: 1,
    max: Number.MAX_SAFE_INTEGER,
    label: 'token_quota.limit',
  })
  limit: number;

  @ApiProperty({ enum: QUOTA_PERIODS, example: 'month' })
  @EnumField(QUOTA_PERIODS, { required: true, label: 'token_quota.period' })
  period: QuotaPeriod;
}
