import { ApiPropertyOptional } from '@nestjs/swagger';
import { QueryIntegerField, StringField } from 'src/common/validation/fields';
import { USER_ID_MAX_LENGTH } from 'src/modules/auth/user-id';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

export class ListKeysQueryDto {
  @ApiPropertyOptional({ minimum: 1, maximum: MAX_PAGE_SIZE, default: DEFAULT_PAGE_SIZE })
  @QueryIntegerField({ min: 1, max: MAX_PAGE_SIZE })
  limit?: number;

  @ApiPropertyOptional({ description: 'next_cursor of the previous page' })
  @StringField({ maxLength: 512 })
  after?: string;

  @ApiPropertyOptional({ description: 'Only the keys of this user' })
  @StringField({ maxLength: USER_ID_MAX_LENGTH })
  user_id?: string;
}
