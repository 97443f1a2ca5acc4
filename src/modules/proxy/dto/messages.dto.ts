import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import {
  ANTHROPIC_BLOCK_MODELS,
  ANTHROPIC_REQUEST_BLOCK_SCHEMA,
  ANTHROPIC_RESPONSE_BLOCK_SCHEMA,
  AnthropicAutoToolChoiceDto,
  AnthropicMetadataDto,
  AnthropicNamedToolChoiceDto,
  AnthropicTextBlockDto,
} from 'src/modules/proxy/dto/anthropic-blocks.dto';

/**
 * OpenAPI description of the Anthropic Messages API as /v1/messages serves it. Documentation
 * only: the body is checked by its translator (wire/anthropic) and the chat checks, and passed
 * through with unknown fields intact to `anthropic` upstreams.
 */
@ApiExtraModels(...ANTHROPIC_BLOCK_MODELS)
export class AnthropicMessageParamDto {
  @ApiProperty({ enum: ['user', 'assistant'] })
  role: 'user' | 'assistant';
  @ApiProperty({
    description:
      'A string, or content blocks: text, image (base64 or url source), document (base64 PDF or text), tool_use, tool_result, thinking',
    oneOf: [{ type: 'string' }, { type: 'array', items: ANTHROPIC_REQUEST_BLOCK_SCHEMA }],
  })
  content: unknown;
}

const SYSTEM_SCHEMA = {
  oneOf: [
    { type: 'string' },
    { type: 'array', items: { $ref: getSchemaPath(AnthropicTextBlockDto) } },
  ],
  description: 'A string or text blocks',
};

export class AnthropicToolDto {
  @ApiProperty() name: string;
  @ApiPropertyOptional() description?: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'JSON schema' })
  input_schema: Record<string, unknown>;
}

export class AnthropicMessagesRequestDto {
  @ApiProperty({ example: 'echo', description: 'A catalog alias (GET /v1/models)' })
  model: string;
  @ApiProperty({
    description:
      "Required by the Messages API; raised to the model's min_max_tokens or lowered to its max_output_tokens, reported in x-parley-applied",
  })
  max_tokens: number;
  @ApiProperty({ type: [AnthropicMessageParamDto] }) messages: AnthropicMessageParamDto[];
  @ApiPropertyOptional(SYSTEM_SCHEMA)
  system?: unknown;
  @ApiPropertyOptional({ description: 'Answer as server-sent events' }) stream?: boolean;
  @ApiPropertyOptional({ type: [String] }) stop_sequences?: string[];
  @ApiPropertyOptional() temperature?: number;
  @ApiPropertyOptional() top_p?: number;
  @ApiPropertyOptional() top_k?: number;
  @ApiPropertyOptional({ type: [AnthropicToolDto] }) tools?: AnthropicToolDto[];
  @ApiPropertyOptional({
    oneOf: [AnthropicAutoToolChoiceDto, AnthropicNamedToolChoiceDto].map((m) => ({
      $ref: getSchemaPath(m),
    })),
  })
  tool_choice?: AnthropicAutoToolChoiceDto | AnthropicNamedToolChoiceDto;
  @ApiPropertyOptional({ type: AnthropicMetadataDto }) metadata?: AnthropicMetadataDto;
}

export class AnthropicUsageDto {
  @ApiProperty({ type: 'integer' }) input_tokens: number;
  @ApiProperty({ type: 'integer' }) output_tokens: number;
  @ApiPropertyOptional({ type: 'integer', nullable: true }) cache_creation_input_tokens?:
    number | null;
  @ApiPropertyOptional({ type: 'integer', nullable: true }) cache_read_input_tokens?: number | null;
}

export class AnthropicMessageResponseDto {
  @ApiProperty({ example: 'msg_chatcmpl-123' }) id: string;
  @ApiProperty({ enum: ['message'] }) type: string;
  @ApiProperty({ enum: ['assistant'] }) role: string;
  @ApiProperty({
    description: "The alias asked for (translated answers) or the upstream's model name (native)",
  })
  model: string;
  @ApiProperty({
    type: 'array',
    items: ANTHROPIC_RESPONSE_BLOCK_SCHEMA,
    description: 'Content blocks: thinking, text, tool_use',
  })
  content: unknown[];
  @ApiProperty({
    type: String,
    nullable: true,
    enum: ['end_turn', 'max_tokens', 'stop_sequence', 'tool_use', 'pause_turn', 'refusal'],
  })
  stop_reason: string | null;
  @ApiProperty({ type: String, nullable: true }) stop_sequence: string | null;
  @ApiProperty({ type: AnthropicUsageDto }) usage: AnthropicUsageDto;
}

export class CountMessageTokensRequestDto {
  @ApiProperty({ example: 'echo', description: 'A catalog alias (GET /v1/models)' })
  model: string;
  @ApiProperty({ type: [AnthropicMessageParamDto] }) messages: AnthropicMessageParamDto[];
  @ApiPropertyOptional(SYSTEM_SCHEMA)
  system?: unknown;
  @ApiPropertyOptional({ type: [AnthropicToolDto], description: 'Counted as their JSON text' })
  tools?: AnthropicToolDto[];
}

export class MessageTokensCountDto {
  @ApiProperty({
    type: 'integer',
    description: 'Tokens of the system prompt, messages and tools',
    example: 14,
  })
  input_tokens: number;
}
