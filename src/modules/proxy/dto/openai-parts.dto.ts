import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';

/**
 * OpenAPI schemas of the Chat Completions building blocks (content parts, tools, tool calls,
 * tool choice, response format, logprobs), so that generated clients type them. Documentation
 * only, like the request DTOs: the body is checked by walking the raw JSON.
 */

export class TextPartDto {
  @ApiProperty({ enum: ['text'] }) type: 'text';
  @ApiProperty() text: string;
}

export class ImageUrlDto {
  @ApiProperty({
    description:
      'A data: URI (image/jpeg, png, webp, gif; checked), or an http(s) URL for models with accepts_image_url',
  })
  url: string;
  @ApiPropertyOptional({ enum: ['auto', 'low', 'high'] }) detail?: 'auto' | 'low' | 'high';
}

export class ImageUrlPartDto {
  @ApiProperty({ enum: ['image_url'] }) type: 'image_url';
  @ApiProperty({ type: ImageUrlDto }) image_url: ImageUrlDto;
}

export class InputAudioDto {
  @ApiProperty({ description: 'Base64 audio' }) data: string;
  @ApiProperty({ enum: ['wav', 'mp3'] }) format: 'wav' | 'mp3';
}

export class InputAudioPartDto {
  @ApiProperty({ enum: ['input_audio'] }) type: 'input_audio';
  @ApiProperty({ type: InputAudioDto }) input_audio: InputAudioDto;
}

export class FileDataDto {
  @ApiPropertyOptional({ description: 'A data: URI (inline only; URLs are refused)' })
  file_data?: string;
  @ApiPropertyOptional() filename?: string;
}

export class FilePartDto {
  @ApiProperty({ enum: ['file'] }) type: 'file';
  @ApiProperty({ type: FileDataDto }) file: FileDataDto;
}

export class MediaUrlDto {
  @ApiProperty({ description: 'A data: URI: URLs are refused (media_url_not_supported)' })
  url: string;
}

export class AudioUrlPartDto {
  @ApiProperty({ enum: ['audio_url'] }) type: 'audio_url';
  @ApiProperty({ type: MediaUrlDto }) audio_url: MediaUrlDto;
}

export class VideoUrlPartDto {
  @ApiProperty({ enum: ['video_url'] }) type: 'video_url';
  @ApiProperty({ type: MediaUrlDto }) video_url: MediaUrlDto;
}

/** Every content part a message may hold (audio_url / video_url: vLLM's extensions). */
export const CONTENT_PART_MODELS = [
  TextPartDto,
  ImageUrlPartDto,
  InputAudioPartDto,
  FilePartDto,
  AudioUrlPartDto,
  VideoUrlPartDto,
];

export const CONTENT_PART_SCHEMA = {
  oneOf: CONTENT_PART_MODELS.map((m) => ({ $ref: getSchemaPath(m) })),
};

export class FunctionCallDto {
  @ApiProperty() name: string;
  @ApiProperty({ description: 'The arguments as JSON text, as the model produced them' })
  arguments: string;
}

export class ToolCallDto {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ['function'] }) type: 'function';
  @ApiProperty({ type: FunctionCallDto }) function: FunctionCallDto;
}

export class FunctionDefinitionDto {
  @ApiProperty() name: string;
  @ApiPropertyOptional() description?: string;
  @ApiPropertyOptional({
    type: 'object',
    additionalProperties: true,
    description: 'JSON schema of the arguments',
  })
  parameters?: Record<string, unknown>;
  @ApiPropertyOptional() strict?: boolean;
}

export class FunctionToolDto {
  @ApiProperty({ enum: ['function'] }) type: 'function';
  @ApiProperty({ type: FunctionDefinitionDto }) function: FunctionDefinitionDto;
}

export class NamedFunctionDto {
  @ApiProperty() name: string;
}

export class NamedToolChoiceDto {
  @ApiProperty({ enum: ['function'] }) type: 'function';
  @ApiProperty({ type: NamedFunctionDto }) function: NamedFunctionDto;
}

export class TextFormatDto {
  @ApiProperty({ enum: ['text'] }) type: 'text';
}

export class JsonObjectFormatDto {
  @ApiProperty({ enum: ['json_object'] }) type: 'json_object';
}

export class JsonSchemaDto {
  @ApiProperty() name: string;
  @ApiPropertyOptional() description?: string;
  @ApiPropertyOptional({ type: 'object', additionalProperties: true })
  schema?: Record<string, unknown>;
  @ApiPropertyOptional() strict?: boolean;
}

export class JsonSchemaFormatDto {
  @ApiProperty({ enum: ['json_schema'] }) type: 'json_schema';
  @ApiProperty({ type: JsonSchemaDto }) json_schema: JsonSchemaDto;
}

export class TopLogprobDto {
  @ApiProperty() token: string;
  @ApiProperty() logprob: number;
  @ApiProperty({ type: 'array', items: { type: 'integer' }, nullable: true })
  bytes: number[] | null;
}

export class TokenLogprobDto extends TopLogprobDto {
  @ApiProperty({ type: [TopLogprobDto] }) top_logprobs: TopLogprobDto[];
}

export class ChoiceLogprobsDto {
  @ApiProperty({ type: 'array', items: { $ref: getSchemaPath(TokenLogprobDto) }, nullable: true })
  content: TokenLogprobDto[] | null;
}

export const OPENAI_PART_MODELS = [
  ...CONTENT_PART_MODELS,
  ToolCallDto,
  FunctionToolDto,
  NamedToolChoiceDto,
  TextFormatDto,
  JsonObjectFormatDto,
  JsonSchemaFormatDto,
  TokenLogprobDto,
  ChoiceLogprobsDto,
];
