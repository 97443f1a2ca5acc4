import { ApiPropertyOptional } from '@nestjs/swagger';
import { EnumField } from 'src/common/validation/fields';

export const EXPORT_FORMATS = ['json', 'markdown'] as const;
export type ExportFormat = (typeof EXPORT_FORMATS)[number];

export class ExportConversationQueryDto {
  @ApiPropertyOptional({ enum: EXPORT_FORMATS, default: 'json' })
  @EnumField(EXPORT_FORMATS)
  format?: ExportFormat;
}
