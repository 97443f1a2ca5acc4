import { ApiProperty } from '@nestjs/swagger';

export class UsageTotalsDto {
  @ApiProperty({ example: 1200 })
  prompt_tokens: number;

  @ApiProperty({ example: 340 })
  completion_tokens: number;

  @ApiProperty({ example: 1540 })
  total_tokens: number;

  @ApiProperty({ description: 'Upstream answers that reported usage', example: 12 })
  requests: number;
}

/** Usage of one key on one model on one UTC day. */
export class UsageRowDto extends UsageTotalsDto {
  @ApiProperty({ example: '0b5c6f9e-3d1a-4f7e-9a34-8f1e2d3c4b5a' })
  key_id: string;

  @ApiProperty({ example: 'llama-4-scout' })
  model: string;

  @ApiProperty({ description: 'UTC day', example: '2026-11-22' })
  day: string;
}

export class UsageListResponseDto {
  @ApiProperty({ enum: ['list'] })
  object: 'list';

  @ApiProperty({ type: [UsageRowDto], description: 'Newest day first, then by key and model' })
  data: UsageRowDto[];

  @ApiProperty({ description: 'More rows match than `limit` returned' })
  has_more: boolean;

  @ApiProperty({ type: UsageTotalsDto, description: 'Sums over every matching row' })
  totals: UsageTotalsDto;
}

export class QuotaStatusDto {
  @ApiProperty({ example: 1000000 })
  limit: number;

  @ApiProperty({ enum: ['day', 'month', 'total'] })
  period: 'day' | 'month' | 'total';

  @ApiProperty({ description: 'Prompt plus completion tokens used in the current period' })
  used: number;

  @ApiProperty({ description: 'limit - used, never below 0; at 0, model requests get 429' })
  remaining: number;

  @ApiProperty({
    type: String,
    nullable: true,
    description: 'When the next period starts (ISO 8601, UTC); null for `total`',
    example: '2026-11-23T00:00:00.000Z',
  })
  resets_at: string | null;
}

export class KeyUsageResponseDto extends UsageListResponseDto {
  @ApiProperty()
  key_id: string;

  @ApiProperty({
    type: QuotaStatusDto,
    nullable: true,
    description: "The key's token quota, if any",
  })
  quota: QuotaStatusDto | null;
}
