import { ApiPropertyOptional } from '@nestjs/swagger';
import {
  BooleanField,
  EnumField,
  ImmutableField,
  ObjectField,
  StringArrayField,
  StringField,
} from 'src/common/validation/fields';
import { ApiKeyRole } from 'src/modules/auth/api-key.entity';
import { ALLOWED_MODELS_FIELD, KEY_ROLES, NAME_FIELD } from 'src/modules/auth/dto/create-key.dto';
import { RateLimitDto, TokenQuotaDto } from 'src/modules/auth/dto/key-limits.dto';

/** Every field optional, at least one required (`No fields to update`). */
export class UpdateKeyDto {
  @ApiPropertyOptional({ maxLength: 120 })
  @StringField(NAME_FIELD)
  name?: string;

  @ApiPropertyOptional({ description: 'false revokes the key (reversible)' })
  @BooleanField()
  is_active?: boolean;

  @ApiPropertyOptional({ enum: KEY_ROLES })
  @EnumField(KEY_ROLES)
  role?: ApiKeyRole;

  @ApiPropertyOptional({ type: [String], nullable: true, description: 'null = every model' })
  @StringArrayField(ALLOWED_MODELS_FIELD)
  allowed_models?: string[] | null;

  @ApiPropertyOptional({ type: RateLimitDto, nullable: true, description: 'null = the defaults' })
  @ObjectField(() => RateLimitDto, { nullable: true })
  rate_limit?: RateLimitDto | null;

  @ApiPropertyOptional({ type: TokenQuotaDto, nullable: true, description: 'null = no quota' })
  @ObjectField(() => TokenQuotaDto, { nullable: true })
  token_quota?: TokenQuotaDto | null;

  @ImmutableField('create a new key for that user')
  user_id?: never;

  @ImmutableField('create a new key instead')
  key?: never;
}

/** The fields of UpdateKeyDto that change something. */
export const UPDATABLE_FIELDS = [
  'name',
  'is_active',
  'role',
  'allowed_models',
  'rate_limit',
  'token_quota',
] as const satisfies readonly (keyof UpdateKeyDto)[];
