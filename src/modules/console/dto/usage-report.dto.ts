import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { IsIn, IsOptional } from 'class-validator';
import { QueryIntegerField, StringField } from 'src/common/validation/fields';

export const MAX_REPORT_DAYS = 366;
export const MAX_REPORT_GROUPS = 100;

const DAY = {
  regex: /^\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])$/,
  message: '{field} must be a date YYYY-MM-DD',
};

/** `GET /api/usage/report`. */
export class UsageReportQueryDto {
  @ApiPropertyOptional({ enum: ['key', 'user', 'model'], default: 'model' })
  @IsOptional()
  @IsIn(['key', 'user', 'model'], { message: 'by must be one of key, user, model' })
  by?: 'key' | 'user' | 'model';

  @ApiPropertyOptional({
    format: 'date',
    description: 'First UTC day (default: 29 days before `to`)',
  })
  @StringField({ maxLength: 10, pattern: DAY })
  from?: string;

  @ApiPropertyOptional({ format: 'date', description: 'Last UTC day, inclusive (default: today)' })
  @StringField({ maxLength: 10, pattern: DAY })
  to?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: MAX_REPORT_GROUPS, default: 20 })
  @QueryIntegerField({ min: 1, max: MAX_REPORT_GROUPS })
  limit?: number;

  @ApiPropertyOptional({ minimum: 0, maximum: 100_000, default: 0 })
  @QueryIntegerField({ min: 0, max: 100_000 })
  offset?: number;
}

export class UsageReportGroupDto {
  @ApiProperty({ description: 'The key id, user id or model alias' })
  label: string;

  @ApiProperty()
  prompt_tokens: number;

  @ApiProperty()
  completion_tokens: number;

  @ApiProperty()
  requests: number;
}

export class UsageReportPointDto extends UsageReportGroupDto {
  @ApiProperty({ format: 'date' })
  day: string;
}

export class UsageReportResponseDto {
  @ApiProperty({ enum: ['key', 'user', 'model'] })
  by: string;

  @ApiProperty({ format: 'date' })
  from: string;

  @ApiProperty({ format: 'date' })
  to: string;

  @ApiProperty({
    type: [UsageReportGroupDto],
    description: 'This page of groups, most tokens first',
  })
  groups: UsageReportGroupDto[];

  @ApiProperty({ description: 'Groups in the whole range (for paging)' })
  total_groups: number;

  @ApiProperty({
    type: [UsageReportPointDto],
    description: "Per-day figures of this page's groups",
  })
  series: UsageReportPointDto[];
}
