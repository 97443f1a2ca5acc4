import { ApiProperty } from '@nestjs/swagger';
import { ApiKeyRole } from 'src/modules/auth/api-key.entity';
import { KEY_ROLES } from 'src/modules/auth/dto/create-key.dto';
import { RateLimitDto, TokenQuotaDto } from 'src/modules/auth/dto/key-limits.dto';

/** Who the gateway takes the caller for. */
export class CallerResponseDto {
  @ApiProperty({ format: 'uuid' }) key_id: string;
  @ApiProperty({ description: "The key's user, or the end user a service key names in x-user-id" })
  user_id: string;
  @ApiProperty({ enum: KEY_ROLES }) role: ApiKeyRole;
  @ApiProperty({ type: [String], nullable: true, description: 'null = every model' })
  allowed_models: string[] | null;
  @ApiProperty({ type: RateLimitDto, nullable: true, description: 'null = the defaults' })
  rate_limit: RateLimitDto | null;
  @ApiProperty({ type: TokenQuotaDto, nullable: true, description: 'null = no quota' })
  token_quota: TokenQuotaDto | null;
}
