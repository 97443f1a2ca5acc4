import { ApiPropertyOptional } from '@nestjs/swagger';
import { QueryIntegerField, StringField } from 'src/common/validation/fields';

export const DEFAULT_USAGE_ROWS = 1_000;
export const MAX_USAGE_ROWS = 10_000;

const DAY = {
  regex: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/,
  message: '{field} must be a date YYYY-MM-DD',
};

/** `GET /v1/usage`: the calling key's own usage. */
export class KeyUsageQueryDto {
  @ApiPropertyOptional({ description: 'Only this model alias' })
  @StringField({ maxLength: 200 })
  model?: string;

  @ApiPropertyOptional({
    description: 'First day, inclusive (UTC)',
    format: 'date',
    example: '2026-11-01',
  })
  @StringField({ maxLength: 10, pattern: DAY })
  from?: string;

  @ApiPropertyOptional({
    description: 'Last day, inclusive (UTC)',
    format: 'date',
    example: '2026-11-30',
  })
  @StringField({ maxLength: 10, pattern: DAY })
  to?: string;

  @ApiPropertyOptional({
    description: 'Most rows returned (newest days first); `totals` always covers every match',
    minimum: 1,
    maximum: MAX_USAGE_ROWS,
    default: DEFAULT_USAGE_ROWS,
  })
  @QueryIntegerField({ min: 1, max: MAX_USAGE_ROWS })
  limit?: number;
}

/** `GET /api/usage`: any key's usage (operator). */
export class UsageQueryDto extends KeyUsageQueryDto {
  @ApiPropertyOptional({ description: 'Only this key (its id, as in /api/keys)' })
  @StringField({ maxLength: 64 })
  key_id?: string;
}
