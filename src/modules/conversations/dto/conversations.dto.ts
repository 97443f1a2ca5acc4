import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';
import { Transform, Type } from 'class-transformer';
import {
  IsInt,
  IsNotEmpty,
  IsOptional,
  IsString,
  MaxLength,
  Min,
  ValidateIf,
} from 'class-validator';
import { StorableText } from 'src/common/validation/fields';
import {
  IsConversationMetadata,
  ownMetadata,
} from 'src/modules/conversations/dto/conversation-metadata.validator';
import { ChatMessageDto, UsageDto } from 'src/modules/proxy/dto/chat-completion.dto';
import { CONTENT_PART_SCHEMA, ToolCallDto } from 'src/modules/proxy/dto/openai-parts.dto';
import { SEARCH_QUERY_MAX_LENGTH } from 'src/modules/search/search-query';

export const LIST_LIMIT_MAX = 100;
export const LIST_LIMIT_DEFAULT = 20;
export const TITLE_MAX_LENGTH = 200;

export class ListConversationsQueryDto {
  @ApiPropertyOptional({
    minimum: 1,
    maximum: LIST_LIMIT_MAX,
    default: LIST_LIMIT_DEFAULT,
    description: `Page size; values above ${LIST_LIMIT_MAX} are capped.`,
  })
  @IsOptional()
  @Type(() => Number)
  @IsInt({ message: 'limit must be an integer' })
  @Min(1, { message: 'limit must be at least 1' })
  limit?: number;

  @ApiPropertyOptional({ description: 'The `next_cursor` of the previous page.' })
  @IsOptional()
  @IsString({ message: 'after must be a string' })
  @MaxLength(200, { message: 'after is not a valid cursor' })
  after?: string;

  @ApiPropertyOptional({
    maxLength: SEARCH_QUERY_MAX_LENGTH,
    description:
      'Full-text search over your messages: the answer is then a list of hits (best first) instead of conversations.',
  })
  @IsOptional()
  @IsString({ message: 'q must be a string' })
  @MaxLength(SEARCH_QUERY_MAX_LENGTH, {
    message: `q must be at most ${SEARCH_QUERY_MAX_LENGTH} characters`,
  })
  q?: string;
}

export class UpdateConversationDto {
  @ApiPropertyOptional({ type: String, nullable: true, maxLength: TITLE_MAX_LENGTH })
  @IsOptional()
  @IsString({ message: 'title must be a string or null' })
  @MaxLength(TITLE_MAX_LENGTH, { message: `title must be at most ${TITLE_MAX_LENGTH} characters` })
  @StorableText()
  title?: string | null;

  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: { type: 'string', maxLength: 512 },
    nullable: true,
    description:
      'Up to 16 string values (keys ≤ 64 characters); replaces the whole object; null clears it.',
  })
  @ValidateIf((o: UpdateConversationDto) => o.metadata !== undefined)
  @Transform(({ obj }: { obj: Record<string, unknown> }) => ownMetadata(obj.metadata))
  @IsConversationMetadata()
  metadata?: Record<string, string> | null;
}

export class ForkConversationDto {
  @ApiProperty({ description: 'The last message the new conversation keeps (inclusive).' })
  @IsNotEmpty({ message: 'message_id is required' })
  @IsString({ message: 'message_id must be a string' })
  @MaxLength(64, { message: 'message_id must be at most 64 characters' })
  message_id: string;
}

export class MessageErrorDto {
  @ApiProperty({ example: 'upstream_error' }) code: string;
}

export class ConversationMessageDto {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ['system', 'user', 'assistant', 'tool'] }) role: string;
  @ApiProperty({
    oneOf: [
      { type: 'string', nullable: true },
      { type: 'array', items: CONTENT_PART_SCHEMA },
    ],
    description: 'OpenAI-style content: a string, or an array of content parts.',
  })
  content: string | Record<string, unknown>[] | null;
  @ApiPropertyOptional() name?: string;
  @ApiPropertyOptional({ type: [ToolCallDto] })
  tool_calls?: Record<string, unknown>[];
  @ApiPropertyOptional() tool_call_id?: string;
  @ApiPropertyOptional() reasoning_content?: string;
  @ApiPropertyOptional({
    type: [ChatMessageDto],
    description: 'Tool results stored inside this (user) message, as OpenAI tool messages.',
  })
  tool_results?: Record<string, unknown>[];
  @ApiProperty({ enum: ['pending', 'completed', 'incomplete', 'failed'] }) status: string;
  @ApiProperty({ type: String, nullable: true }) finish_reason: string | null;
  @ApiProperty({ type: UsageDto, nullable: true }) usage: UsageDto | null;
  @ApiProperty({ type: String, nullable: true }) model: string | null;
  @ApiProperty({ type: MessageErrorDto, nullable: true }) error: MessageErrorDto | null;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
}

export class ConversationResponseDto {
  @ApiProperty() id: string;
  @ApiProperty({ example: 'conversation' }) object: 'conversation';
  @ApiProperty({ type: String, nullable: true }) title: string | null;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, nullable: true })
  metadata: Record<string, string> | null;
  @ApiProperty({ type: String, nullable: true }) model: string | null;
  @ApiProperty({ type: String, nullable: true, description: 'The head of the conversation.' })
  last_message_id: string | null;
  @ApiProperty({ description: 'A turn is in progress.' }) busy: boolean;
  @ApiProperty({ description: 'Unix seconds' }) created_at: number;
  @ApiProperty({ description: 'Unix seconds' }) updated_at: number;
}

export class ConversationDetailResponseDto extends ConversationResponseDto {
  @ApiProperty({ type: [ConversationMessageDto], description: 'The history, oldest first.' })
  messages: ConversationMessageDto[];
}

export class ConversationListResponseDto {
  @ApiProperty({ example: 'list' }) object: 'list';
  @ApiProperty({ type: [ConversationResponseDto] }) data: ConversationResponseDto[];
  @ApiProperty() has_more: boolean;
  @ApiProperty({ type: String, nullable: true }) next_cursor: string | null;
}

export class DeletedConversationResponseDto {
  @ApiProperty() id: string;
  @ApiProperty({ example: 'conversation.deleted' }) object: 'conversation.deleted';
  @ApiProperty({ example: true }) deleted: true;
}
