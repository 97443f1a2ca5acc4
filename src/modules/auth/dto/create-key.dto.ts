import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import {
  BooleanField,
  EnumField,
  ObjectField,
  StringArrayField,
  StringField,
} from 'src/common/validation/fields';
import { ApiKeyRole } from 'src/modules/auth/api-key.entity';
import { RateLimitDto, TokenQuotaDto } from 'src/modules/auth/dto/key-limits.dto';
import { KEY_PATTERN, MAX_KEY_LENGTH, MIN_KEY_LENGTH } from 'src/modules/auth/key-material';
import {
  END_USER_SEPARATOR,
  NO_END_USER_SEPARATOR,
  USER_ID_MAX_LENGTH,
  USER_ID_PATTERN,
} from 'src/modules/auth/user-id';

export const KEY_ROLES: readonly ApiKeyRole[] = ['user', 'service', 'node'];
const VISIBLE_ASCII = '{field} must contain only visible ASCII characters (no spaces)';

/** Shared by create and update. */
export const NAME_FIELD = { maxLength: 120 } as const;
export const ALLOWED_MODELS_FIELD = {
  nullable: true,
  maxItems: 1000,
  maxItemLength: 200,
  noun: 'an array of model aliases',
  emptyMessage: '{field} must not be empty: use null to allow every model',
} as const;

export class CreateKeyDto {
  @ApiProperty({ description: 'What the key is for', example: 'laptop', maxLength: 120 })
  @StringField({ required: true, ...NAME_FIELD })
  name: string;

  @ApiProperty({
    description:
      'The user the key acts for; keys with the same user_id share its conversations. No "/": it separates a service key\'s user from its end users (x-user-id)',
    example: 'alice',
    maxLength: USER_ID_MAX_LENGTH,
  })
  @StringField({
    required: true,
    maxLength: USER_ID_MAX_LENGTH,
    pattern: [
      { regex: USER_ID_PATTERN, message: VISIBLE_ASCII },
      {
        regex: NO_END_USER_SEPARATOR,
        message: `{field} must not contain "${END_USER_SEPARATOR}": it separates a service key's user from its end users`,
      },
    ],
  })
  user_id: string;

  @ApiPropertyOptional({
    description: 'An explicit key (16-256 visible ASCII characters); omitted: one is generated',
    minLength: MIN_KEY_LENGTH,
    maxLength: MAX_KEY_LENGTH,
  })
  @StringField({
    minLength: MIN_KEY_LENGTH,
    maxLength: MAX_KEY_LENGTH,
    typeMessage: '{field} must be a non-empty string',
    pattern: { regex: KEY_PATTERN, message: VISIBLE_ASCII },
  })
  key?: string;

  @ApiPropertyOptional({ default: true })
  @BooleanField()
  is_active?: boolean;

  @ApiPropertyOptional({
    enum: KEY_ROLES,
    default: 'user',
    description:
      'A service key may act for an end user with x-user-id; a node key may only report GPU statistics',
  })
  @EnumField(KEY_ROLES)
  role?: ApiKeyRole;

  @ApiPropertyOptional({
    type: [String],
    nullable: true,
    description: 'Model aliases this key may use; null (default) = every model',
    example: ['llama-4-scout'],
  })
  @StringArrayField(ALLOWED_MODELS_FIELD)
  allowed_models?: string[] | null;

  @ApiPropertyOptional({
    type: RateLimitDto,
    nullable: true,
    description: 'null (default) = RATE_LIMIT_PER_SECOND / RATE_LIMIT_BURST',
  })
  @ObjectField(() => RateLimitDto, { nullable: true })
  rate_limit?: RateLimitDto | null;

  @ApiPropertyOptional({ type: TokenQuotaDto, nullable: true, description: 'null = no quota' })
  @ObjectField(() => TokenQuotaDto, { nullable: true })
  token_quota?: TokenQuotaDto | null;
}
