import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';

/**
 * OpenAPI schemas of the Anthropic Messages content blocks, request and answer, so that
 * generated clients type them. Documentation only (the translator checks the raw body).
 */

export class AnthropicTextBlockDto {
  @ApiProperty({ enum: ['text'] }) type: 'text';
  @ApiProperty() text: string;
}

export class AnthropicBase64ImageSourceDto {
  @ApiProperty({ enum: ['base64'] }) type: 'base64';
  @ApiProperty({ enum: ['image/jpeg', 'image/png', 'image/gif', 'image/webp'] })
  media_type: 'image/jpeg' | 'image/png' | 'image/gif' | 'image/webp';
  @ApiProperty() data: string;
}

export class AnthropicUrlSourceDto {
  @ApiProperty({ enum: ['url'] }) type: 'url';
  @ApiProperty({ description: 'Forwarded only to models with accepts_image_url' }) url: string;
}

export class AnthropicImageBlockDto {
  @ApiProperty({ enum: ['image'] }) type: 'image';
  @ApiProperty({
    oneOf: [AnthropicBase64ImageSourceDto, AnthropicUrlSourceDto].map((m) => ({
      $ref: getSchemaPath(m),
    })),
  })
  source: AnthropicBase64ImageSourceDto | AnthropicUrlSourceDto;
}

export class AnthropicBase64PdfSourceDto {
  @ApiProperty({ enum: ['base64'] }) type: 'base64';
  @ApiProperty({ enum: ['application/pdf'] }) media_type: 'application/pdf';
  @ApiProperty() data: string;
}

export class AnthropicPlainTextSourceDto {
  @ApiProperty({ enum: ['text'] }) type: 'text';
  @ApiProperty({ enum: ['text/plain'] }) media_type: 'text/plain';
  @ApiProperty() data: string;
}

export class AnthropicDocumentBlockDto {
  @ApiProperty({ enum: ['document'] }) type: 'document';
  @ApiProperty({
    oneOf: [AnthropicBase64PdfSourceDto, AnthropicPlainTextSourceDto].map((m) => ({
      $ref: getSchemaPath(m),
    })),
  })
  source: AnthropicBase64PdfSourceDto | AnthropicPlainTextSourceDto;
  @ApiPropertyOptional() title?: string;
}

export class AnthropicToolUseBlockDto {
  @ApiProperty({ enum: ['tool_use'] }) type: 'tool_use';
  @ApiProperty() id: string;
  @ApiProperty() name: string;
  @ApiProperty({ type: 'object', additionalProperties: true, description: 'The arguments' })
  input: Record<string, unknown>;
}

export class AnthropicToolResultBlockDto {
  @ApiProperty({ enum: ['tool_result'] }) type: 'tool_result';
  @ApiProperty() tool_use_id: string;
  @ApiPropertyOptional({
    oneOf: [
      { type: 'string' },
      {
        type: 'array',
        items: {
          oneOf: [AnthropicTextBlockDto, AnthropicImageBlockDto].map((m) => ({
            $ref: getSchemaPath(m),
          })),
        },
      },
    ],
  })
  content?: string | (AnthropicTextBlockDto | AnthropicImageBlockDto)[];
  @ApiPropertyOptional() is_error?: boolean;
}

export class AnthropicThinkingBlockDto {
  @ApiProperty({ enum: ['thinking'] }) type: 'thinking';
  @ApiProperty() thinking: string;
  @ApiProperty() signature: string;
}

/** Blocks a request's messages may hold. */
export const ANTHROPIC_REQUEST_BLOCK_SCHEMA = {
  oneOf: [
    AnthropicTextBlockDto,
    AnthropicImageBlockDto,
    AnthropicDocumentBlockDto,
    AnthropicToolUseBlockDto,
    AnthropicToolResultBlockDto,
    AnthropicThinkingBlockDto,
  ].map((m) => ({ $ref: getSchemaPath(m) })),
};

/** Blocks an answer holds. */
export const ANTHROPIC_RESPONSE_BLOCK_SCHEMA = {
  oneOf: [AnthropicTextBlockDto, AnthropicToolUseBlockDto, AnthropicThinkingBlockDto].map((m) => ({
    $ref: getSchemaPath(m),
  })),
};

export class AnthropicAutoToolChoiceDto {
  @ApiProperty({ enum: ['auto', 'any', 'none'] }) type: 'auto' | 'any' | 'none';
  @ApiPropertyOptional() disable_parallel_tool_use?: boolean;
}

export class AnthropicNamedToolChoiceDto {
  @ApiProperty({ enum: ['tool'] }) type: 'tool';
  @ApiProperty() name: string;
  @ApiPropertyOptional() disable_parallel_tool_use?: boolean;
}

export class AnthropicMetadataDto {
  @ApiPropertyOptional({ description: "An end user's id, forwarded to anthropic upstreams" })
  user_id?: string;
}

export const ANTHROPIC_BLOCK_MODELS = [
  AnthropicTextBlockDto,
  AnthropicImageBlockDto,
  AnthropicBase64ImageSourceDto,
  AnthropicUrlSourceDto,
  AnthropicDocumentBlockDto,
  AnthropicBase64PdfSourceDto,
  AnthropicPlainTextSourceDto,
  AnthropicToolUseBlockDto,
  AnthropicToolResultBlockDto,
  AnthropicThinkingBlockDto,
  AnthropicAutoToolChoiceDto,
  AnthropicNamedToolChoiceDto,
];
