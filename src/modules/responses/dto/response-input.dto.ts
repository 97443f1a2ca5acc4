import { ApiProperty, ApiPropertyOptional, getSchemaPath } from '@nestjs/swagger';

/**
 * OpenAPI schemas of what a client sends as Responses input items (and Conversations API
 * items), so that generated clients type them. Documentation only: the items are checked by
 * walking the raw JSON (`inputToChatMessages`). Every shape is told apart by its `type` (a
 * message may leave it out, and then has a `role`, which no other item has), so the unions
 * are `oneOf`.
 */

export class InputTextPartDto {
  @ApiProperty({ enum: ['input_text'] }) type: 'input_text';
  @ApiProperty() text: string;
}

export class InputImagePartDto {
  @ApiProperty({ enum: ['input_image'] }) type: 'input_image';
  @ApiProperty({
    description:
      'A data: URI, or an http(s) URL for models with accepts_image_url (file_id is not supported: Parley has no file store)',
  })
  image_url: string;
  @ApiPropertyOptional({ enum: ['auto', 'low', 'high'] }) detail?: 'auto' | 'low' | 'high';
}

export class OutputTextPartDto {
  @ApiProperty({ enum: ['output_text'] }) type: 'output_text';
  @ApiProperty() text: string;
  @ApiPropertyOptional({ type: 'array', items: { type: 'object', additionalProperties: true } })
  annotations?: Record<string, unknown>[];
}

const INPUT_PART_MODELS = [InputTextPartDto, InputImagePartDto, OutputTextPartDto];

export class InputMessageItemDto {
  @ApiPropertyOptional({ enum: ['message'], description: 'May be left out: `role` says it.' })
  type?: 'message';
  @ApiProperty({
    enum: ['user', 'assistant', 'system', 'developer'],
    description: 'Images are taken in user messages only; other roles keep the text.',
  })
  role: 'user' | 'assistant' | 'system' | 'developer';
  @ApiProperty({
    oneOf: [
      { type: 'string' },
      {
        type: 'array',
        items: { oneOf: INPUT_PART_MODELS.map((m) => ({ $ref: getSchemaPath(m) })) },
      },
    ],
  })
  content: string | (InputTextPartDto | InputImagePartDto | OutputTextPartDto)[];
}

export class FunctionCallItemDto {
  @ApiProperty({ enum: ['function_call'] }) type: 'function_call';
  @ApiProperty() call_id: string;
  @ApiProperty() name: string;
  @ApiProperty({ description: 'The arguments as JSON text, as the model produced them' })
  arguments: string;
  @ApiPropertyOptional({ description: 'The `fc_…` id of a stored item (ignored)' }) id?: string;
}

export class FunctionCallOutputItemDto {
  @ApiProperty({ enum: ['function_call_output'] }) type: 'function_call_output';
  @ApiProperty() call_id: string;
  @ApiProperty({
    oneOf: [
      { type: 'string' },
      { type: 'array', items: { $ref: getSchemaPath(InputTextPartDto) } },
    ],
  })
  output: string | InputTextPartDto[];
}

export class ItemReferenceDto {
  @ApiProperty({ enum: ['item_reference'] }) type: 'item_reference';
  @ApiProperty({ description: 'A stored item of yours (`msg_…`, `fc_…`, `fco_…`)' }) id: string;
}

export class ConversationReferenceDto {
  @ApiProperty({ description: '`conv_…` or the /c1 conversation id' }) id: string;
}

/** Every schema above, for `ApiExtraModels` of the controllers that use the unions. */
export const INPUT_ITEM_MODELS = [
  ...INPUT_PART_MODELS,
  InputMessageItemDto,
  FunctionCallItemDto,
  FunctionCallOutputItemDto,
  ItemReferenceDto,
  ConversationReferenceDto,
];

/** A Conversations API item (no `item_reference`: it names an item to copy into a turn). */
export const CONVERSATION_ITEM_SCHEMA = {
  oneOf: [InputMessageItemDto, FunctionCallItemDto, FunctionCallOutputItemDto].map((m) => ({
    $ref: getSchemaPath(m),
  })),
};

/** A Responses input item. */
export const INPUT_ITEM_SCHEMA = {
  oneOf: [...CONVERSATION_ITEM_SCHEMA.oneOf, { $ref: getSchemaPath(ItemReferenceDto) }],
};
