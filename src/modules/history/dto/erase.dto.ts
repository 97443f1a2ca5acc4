import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { EnumField } from 'src/common/validation/fields';

export class EraseUserDataQueryDto {
  @ApiPropertyOptional({
    enum: ['true', 'false'],
    default: 'false',
    description:
      'Also erase the end users a service user acts for (`<user_id>/<x-user-id>`). Default: only `user_id` itself.',
  })
  @EnumField(['true', 'false'])
  include_end_users?: 'true' | 'false';
}

export class ErasedCountsDto {
  @ApiProperty() conversations: number;
  @ApiProperty() messages: number;
  @ApiProperty() idempotency_keys: number;
  @ApiProperty() search_entries: number;
}

export class UserDataDeletedResponseDto {
  @ApiProperty({ example: 'user_data.deleted' }) object: 'user_data.deleted';
  @ApiProperty() user_id: string;
  @ApiProperty() include_end_users: boolean;
  @ApiProperty({
    type: ErasedCountsDto,
    description: 'What was deleted. Usage totals are kept: they hold no content.',
  })
  deleted: ErasedCountsDto;
}
