import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import { Type } from 'class-transformer';
import { IsIn, IsInt, IsOptional, IsString, Max, MaxLength, Min } from 'class-validator';
import { ITEM_LIMIT_DEFAULT, ITEM_LIMIT_MAX } from 'src/modules/responses/item-page';
import {
  ConversationReferenceDto,
  INPUT_ITEM_SCHEMA,
} from 'src/modules/responses/dto/response-input.dto';

/** `after` / `limit` / `order` of the item lists (input items, conversation items). */
export class ListItemsQueryDto {
  @ApiPropertyOptional({ description: 'An item id of the previous page.' })
  @IsOptional()
  @IsString({ message: 'after must be a string' })
  @MaxLength(200, { message: 'after is not an item of this list' })
  after?: string;

  @ApiPropertyOptional({ minimum: 1, maximum: ITEM_LIMIT_MAX, default: ITEM_LIMIT_DEFAULT })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1, { message: 'limit must be at least 1' })
  @Max(ITEM_LIMIT_MAX, { message: `limit must be at most ${ITEM_LIMIT_MAX}` })
  limit?: number;

  @ApiPropertyOptional({ enum: ['asc', 'desc'] })
  @IsOptional()
  @IsIn(['asc', 'desc'], { message: 'order must be asc or desc' })
  order?: 'asc' | 'desc';
}

/** One item (OpenAI's shapes: `message`, `function_call`, `function_call_output`). */
export class ResponseItemDto {
  @ApiProperty({ enum: ['message', 'function_call', 'function_call_output'] })
  type: string;

  @ApiProperty({
    example: 'msg_3f1c…',
    description: '`msg_`, `fc_` or `fco_` and the stored message id.',
  })
  id: string;

  @ApiPropertyOptional({ enum: ['completed', 'incomplete', 'in_progress'] })
  status?: string;

  @ApiPropertyOptional({ enum: ['user', 'assistant', 'system'] })
  role?: string;

  @ApiPropertyOptional({
    type: 'array',
    items: { type: 'object', additionalProperties: true },
    description: '`input_text` / `input_image` / `output_text` parts (message items).',
  })
  content?: Record<string, unknown>[];

  @ApiPropertyOptional() call_id?: string;
  @ApiPropertyOptional() name?: string;
  @ApiPropertyOptional() arguments?: string;
  @ApiPropertyOptional() output?: string;
}

export class ItemListResponseDto {
  @ApiProperty({ enum: ['list'] }) object: 'list';
  @ApiProperty({ type: [ResponseItemDto] }) data: ResponseItemDto[];
  @ApiProperty({ type: String, nullable: true }) first_id: string | null;
  @ApiProperty({ type: String, nullable: true }) last_id: string | null;
  @ApiProperty() has_more: boolean;
}

export class ResponseUsageDto {
  @ApiProperty() input_tokens: number;
  @ApiProperty() output_tokens: number;
  @ApiProperty() total_tokens: number;
}

/** The OpenAI `response` object. */
export class ResponseObjectDto {
  @ApiProperty({ example: 'resp_…' }) id: string;
  @ApiProperty({ enum: ['response'] }) object: 'response';
  @ApiProperty({ description: 'Unix seconds.' }) created_at: number;
  @ApiProperty({
    enum: ['queued', 'in_progress', 'completed', 'incomplete', 'failed', 'cancelled'],
  })
  status: string;
  @ApiProperty() model: string;
  @ApiProperty({ type: [ResponseItemDto] }) output: ResponseItemDto[];
  @ApiProperty({ type: ResponseUsageDto, nullable: true }) usage: ResponseUsageDto | null;
  @ApiProperty({ type: String, nullable: true }) previous_response_id: string | null;
  @ApiProperty({ type: 'object', nullable: true, additionalProperties: true })
  conversation: { id: string } | null;
  @ApiProperty({ type: 'object', nullable: true, additionalProperties: true })
  error: { code: string; message: string } | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } })
  metadata: Record<string, string>;
  @ApiProperty() store: boolean;
  @ApiProperty() background: boolean;
}

/** `POST /v1/responses` (documented; the body is read as OpenAI sends it). */
export class CreateResponseDto {
  @ApiProperty({ example: 'echo' }) model: string;
  @ApiProperty({
    oneOf: [{ type: 'string' }, { type: 'array', items: INPUT_ITEM_SCHEMA }],
    description: 'A string (one user message), or items.',
  })
  input: unknown;
  @ApiPropertyOptional() instructions?: string;
  @ApiPropertyOptional({ type: 'array', items: { type: 'object', additionalProperties: true } })
  tools?: Record<string, unknown>[];
  @ApiPropertyOptional() previous_response_id?: string;
  @ApiPropertyOptional({
    oneOf: [{ type: 'string' }, { $ref: getSchemaPath(ConversationReferenceDto) }],
    description: '`conv_…` (or a /c1 conversation id), or `{id}`.',
  })
  conversation?: string | ConversationReferenceDto;
  @ApiPropertyOptional({ default: true }) store?: boolean;
  @ApiPropertyOptional({ default: false }) stream?: boolean;
  @ApiPropertyOptional({ default: false }) background?: boolean;
  @ApiPropertyOptional({ enum: ['disabled', 'auto'], default: 'disabled' }) truncation?: string;
  @ApiPropertyOptional() max_output_tokens?: number;
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  metadata?: Record<string, string>;
}

export class DeletedResponseDto {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ['response.deleted'] }) object: string;
  @ApiProperty() deleted: boolean;
}
