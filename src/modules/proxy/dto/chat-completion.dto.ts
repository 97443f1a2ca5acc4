import { ApiExtraModels, ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';
import {
  CONTENT_PART_SCHEMA,
  ChoiceLogprobsDto,
  FunctionToolDto,
  JsonObjectFormatDto,
  JsonSchemaFormatDto,
  NamedToolChoiceDto,
  OPENAI_PART_MODELS,
  TextFormatDto,
  ToolCallDto,
} from 'src/modules/proxy/dto/openai-parts.dto';

/**
 * OpenAPI description of the OpenAI chat request. Documentation only: /v1 forwards the body
 * with unknown fields intact, so it is checked by walking the raw JSON (models/constraints),
 * not by a whitelisting DTO.
 */
@ApiExtraModels(...OPENAI_PART_MODELS)
export class ChatMessageDto {
  @ApiProperty({ enum: ['system', 'developer', 'user', 'assistant', 'tool'] })
  role: 'system' | 'developer' | 'user' | 'assistant' | 'tool';
  @ApiPropertyOptional({
    description:
      'A string, or content parts (text, image_url with a data: URI or, for models that accept them, an http(s) URL; input_audio; audio_url/video_url/file with inline data only). null: an assistant message with tool_calls only.',
    oneOf: [
      { type: 'string', nullable: true },
      { type: 'array', items: CONTENT_PART_SCHEMA },
    ],
  })
  content?: unknown;
  @ApiPropertyOptional() name?: string;
  @ApiPropertyOptional({ type: [ToolCallDto], description: 'assistant: the tools it called' })
  tool_calls?: ToolCallDto[];
  @ApiPropertyOptional({ description: 'tool: the id of the call this message answers' })
  tool_call_id?: string;
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
    type: 'integer',
    description:
      "Raised to the model's min_max_tokens or lowered to its max_output_tokens, reported in x-parley-applied",
  })
  max_tokens?: number;
  @ApiPropertyOptional({ type: 'integer', description: 'Same bounds as max_tokens' })
  max_completion_tokens?: number;
  @ApiPropertyOptional() temperature?: number;
  @ApiPropertyOptional() top_p?: number;
  @ApiPropertyOptional({
    type: 'integer',
    description: 'Answers to generate (1 on /c1: a conversation keeps one answer)',
  })
  n?: number;
  @ApiPropertyOptional({ type: 'integer' }) seed?: number;
  @ApiPropertyOptional({
    oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }],
    description: 'Up to 4 sequences where the model stops',
  })
  stop?: string | string[];
  @ApiPropertyOptional() presence_penalty?: number;
  @ApiPropertyOptional() frequency_penalty?: number;
  @ApiPropertyOptional() logprobs?: boolean;
  @ApiPropertyOptional({ type: 'integer' }) top_logprobs?: number;
  @ApiPropertyOptional({ description: "An end user's id, forwarded to the upstream" })
  user?: string;
  @ApiPropertyOptional({ type: [FunctionToolDto] }) tools?: FunctionToolDto[];
  @ApiPropertyOptional({
    oneOf: [
      { type: 'string', enum: ['none', 'auto', 'required'] },
      { $ref: getSchemaPath(NamedToolChoiceDto) },
    ],
  })
  tool_choice?: 'none' | 'auto' | 'required' | NamedToolChoiceDto;
  @ApiPropertyOptional() parallel_tool_calls?: boolean;
  @ApiPropertyOptional({
    oneOf: [TextFormatDto, JsonObjectFormatDto, JsonSchemaFormatDto].map((m) => ({
      $ref: getSchemaPath(m),
    })),
  })
  response_format?: TextFormatDto | JsonObjectFormatDto | JsonSchemaFormatDto;
}

export class ChatCompletionMessageDto {
  @ApiProperty({ enum: ['assistant'] }) role: 'assistant';
  @ApiProperty({ type: String, nullable: true }) content: string | null;
  @ApiPropertyOptional({ type: [ToolCallDto] }) tool_calls?: ToolCallDto[];
  @ApiPropertyOptional({ description: "The model's visible reasoning, when the server sends it" })
  reasoning_content?: string;
}

export class ChatCompletionChoiceDto {
  @ApiProperty({ type: 'integer' }) index: number;
  @ApiProperty({ type: ChatCompletionMessageDto }) message: ChatCompletionMessageDto;
  @ApiProperty({
    type: String,
    nullable: true,
    description: 'stop, length, tool_calls, content_filter (or a server-specific reason)',
  })
  finish_reason: string | null;
  @ApiPropertyOptional({
    type: ChoiceLogprobsDto,
    nullable: true,
    description: 'Token log probabilities when the request asked for logprobs',
  })
  logprobs?: ChoiceLogprobsDto | null;
}

export class UsageDto {
  @ApiProperty({ type: 'integer' }) prompt_tokens: number;
  @ApiProperty({ type: 'integer' }) completion_tokens: number;
  @ApiProperty({ type: 'integer' }) total_tokens: number;
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

/** Embeddings have no completion. */
export class EmbeddingsUsageDto {
  @ApiProperty({ type: 'integer' }) prompt_tokens: number;
  @ApiProperty({ type: 'integer' }) total_tokens: number;
}

export class EmbeddingsResponseDto {
  @ApiProperty({ enum: ['list'] }) object: string;
  @ApiProperty() model: string;
  @ApiProperty({ type: [EmbeddingDto] }) data: EmbeddingDto[];
  @ApiProperty({ type: EmbeddingsUsageDto }) usage: EmbeddingsUsageDto;
}
