import { ApiProperty } from '@nestjs/swagger';
import { ApiKeyRole } from 'src/modules/auth/api-key.entity';
import { KEY_ROLES } from 'src/modules/auth/dto/create-key.dto';
import { RateLimitDto, TokenQuotaDto } from 'src/modules/auth/dto/key-limits.dto';

/** A key as the API shows it: never the key itself (except at creation), never its hash. */
export class KeyResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty() name: string;
  @ApiProperty() user_id: string;
  @ApiProperty({ enum: KEY_ROLES }) role: ApiKeyRole;
  @ApiProperty() is_active: boolean;
  @ApiProperty({ type: [String], nullable: true }) allowed_models: string[] | null;
  @ApiProperty({ type: RateLimitDto, nullable: true }) rate_limit: RateLimitDto | null;
  @ApiProperty({ type: TokenQuotaDto, nullable: true }) token_quota: TokenQuotaDto | null;
  @ApiProperty({ format: 'date-time' }) created_at: string;
  @ApiProperty({
    type: String,
    format: 'date-time',
    nullable: true,
    description: 'Updated at most about once a minute',
  })
  last_used_at: string | null;
}

export class CreatedKeyResponseDto extends KeyResponseDto {
  @ApiProperty({ description: 'The key itself. Shown this once: only its SHA-256 is stored.' })
  key: string;
}

export class KeyListResponseDto {
  @ApiProperty({ type: [KeyResponseDto] }) data: KeyResponseDto[];
  @ApiProperty() has_more: boolean;
  @ApiProperty({ type: String, nullable: true, description: 'Pass as `after` for the next page' })
  next_cursor: string | null;
}

export class DeletedKeyResponseDto {
  @ApiProperty({ format: 'uuid' }) id: string;
  @ApiProperty({ enum: [true] }) deleted: true;
}
