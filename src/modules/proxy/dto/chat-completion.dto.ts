import { ApiProperty, ApiPropertyOptional } from '@nestjs/swagger';

/**
 * OpenAPI description of the OpenAI chat request. Documentation only: /v1 forwards the body
 * with unknown fields intact, so it is checked by walking the raw JSON (models/constraints),
 * not by a whitelisting DTO.
 */
export class ChatMessageDto {
  @ApiProperty({ enum: ['system', 'developer', 'user', 'assistant', 'tool'] })
  role: string;
  @ApiPropertyOptional({
    description:
      'A string, or content parts (text, image_url with a data: URI or, for models that accept them, an http(s) URL; input_audio; audio_url/video_url/file with inline data only)',
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'object' } }],
    nullable: true,
  })
  content?: unknown;
  @ApiPropertyOptional() name?: string;
  @ApiPropertyOptional({ type: 'array', items: { type: 'object' } }) tool_calls?: unknown[];
  @ApiPropertyOptional() tool_call_id?: string;
}

export class StreamOptionsDto {
  @ApiPropertyOptional({ description: 'Receive the final usage-only chunk' })
  include_usage?: boolean;
}

export class ChatCompletionRequestDto {
  @ApiProperty({ example: 'echo', description: 'A catalog alias (GET /v1/models)' })
  model: string;
  @ApiProperty({ type: [ChatMessageDto] }) messages: ChatMessageDto[];
  @ApiPropertyOptional({ description: 'Answer as server-sent events' }) stream?: boolean;
  @ApiPropertyOptional({ type: StreamOptionsDto }) stream_options?: StreamOptionsDto;
  @ApiPropertyOptional({
    description:
      "Raised to the model's min_max_tokens or lowered to its max_output_tokens, reported in x-parley-applied",
  })
  max_tokens?: number;
  @ApiPropertyOptional({ description: 'Same bounds as max_tokens' })
  max_completion_tokens?: number;
  @ApiPropertyOptional() temperature?: number;
  @ApiPropertyOptional({ type: 'array', items: { type: 'object' } }) tools?: unknown[];
}

export class ChatCompletionMessageDto {
  @ApiProperty({ enum: ['assistant'] }) role: string;
  @ApiProperty({ type: String, nullable: true }) content: string | null;
  @ApiPropertyOptional({ type: 'array', items: { type: 'object' } }) tool_calls?: unknown[];
}

export class ChatCompletionChoiceDto {
  @ApiProperty() index: number;
  @ApiProperty({ type: ChatCompletionMessageDto }) message: ChatCompletionMessageDto;
  @ApiProperty({ type: String, nullable: true }) finish_reason: string | null;
}

export class UsageDto {
  @ApiProperty() prompt_tokens: number;
  @ApiProperty() completion_tokens: number;
  @ApiProperty() total_tokens: number;
}

export class ChatCompletionResponseDto {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ['chat.completion'] }) object: string;
  @ApiProperty() created: number;
  @ApiProperty({ description: "The upstream's model name" }) model: string;
  @ApiProperty({ type: [ChatCompletionChoiceDto] }) choices: ChatCompletionChoiceDto[];
  @ApiProperty({ type: UsageDto }) usage: UsageDto;
}

export class EmbeddingsRequestDto {
  @ApiProperty({ example: 'echo' }) model: string;
  @ApiProperty({
    oneOf: [
      { type: 'string' },
      { type: 'array', items: { type: 'string' } },
      { type: 'array', items: { type: 'array', items: { type: 'integer' } } },
    ],
  })
  input: unknown;
  @ApiPropertyOptional({ enum: ['float', 'base64'] }) encoding_format?: string;
  @ApiPropertyOptional() dimensions?: number;
}

export class EmbeddingDto {
  @ApiProperty({ enum: ['embedding'] }) object: string;
  @ApiProperty() index: number;
  @ApiProperty({ type: [Number] }) embedding: number[];
}

export class EmbeddingsResponseDto {
  @ApiProperty({ enum: ['list'] }) object: string;
  @ApiProperty() model: string;
  @ApiProperty({ type: [EmbeddingDto] }) data: EmbeddingDto[];
  @ApiProperty({ type: UsageDto }) usage: UsageDto;
}
