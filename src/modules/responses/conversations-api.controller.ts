import { Body, Controller, Delete, Get, HttpCode, Param, Post, Query } from '@nestjs/common';
import {
  ApiBody,
  ApiExtraModels,
  ApiOkResponse,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
  ApiOperation,
} from '@nestjs/swagger';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiKeyAuth } from 'src/modules/auth/auth.decorators';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { ConversationsApiService } from 'src/modules/responses/conversations-api.service';
import {
  ItemListResponseDto,
  ListItemsQueryDto,
  ResponseItemDto,
} from 'src/modules/responses/dto/responses.dto';
import {
  CONVERSATION_ITEM_SCHEMA,
  FunctionCallItemDto,
  FunctionCallOutputItemDto,
  INPUT_ITEM_MODELS,
  InputMessageItemDto,
} from 'src/modules/responses/dto/response-input.dto';

class ConversationObjectDto {
  @ApiProperty({
    example: 'conv_…',
    description: '`conv_` and the /c1 conversation id (either is accepted).',
  })
  id: string;
  @ApiProperty({ enum: ['conversation'] }) object: string;
  @ApiProperty({ description: 'Unix seconds.' }) created_at: number;
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' } })
  metadata: Record<string, string>;
}

class DeletedConversationObjectDto {
  @ApiProperty() id: string;
  @ApiProperty({ enum: ['conversation.deleted'] }) object: string;
  @ApiProperty() deleted: boolean;
}

type ConversationItem = InputMessageItemDto | FunctionCallItemDto | FunctionCallOutputItemDto;

class CreateConversationBodyDto {
  @ApiPropertyOptional({ type: 'array', items: CONVERSATION_ITEM_SCHEMA, maxItems: 20 })
  items?: ConversationItem[];
  @ApiPropertyOptional({ type: 'object', additionalProperties: { type: 'string' } })
  metadata?: Record<string, string>;
}

class UpdateConversationBodyDto {
  @ApiProperty({ type: 'object', additionalProperties: { type: 'string' }, nullable: true })
  metadata: Record<string, string> | null;
}

class AddItemsBodyDto {
  @ApiProperty({ type: 'array', items: CONVERSATION_ITEM_SCHEMA, maxItems: 20 })
  items: ConversationItem[];
}

/**
 * OpenAI's Conversations API (`/v1/conversations`) on the `/c1` conversations. Bodies are read
 * as OpenAI clients send them (items are OpenAI's open shapes), so they are taken raw and
 * checked by the service, like the `/v1` proxy bodies.
 */
@ApiTags('responses')
@ApiKeyAuth()
@ApiExtraModels(...INPUT_ITEM_MODELS)
@Controller('v1/conversations')
export class ConversationsApiController {
  constructor(private readonly conversations: ConversationsApiService) {}

  @Post()
  @ApiOperation({
    summary: 'Create a conversation (OpenAI Conversations API), with up to 20 items',
  })
  @HttpCode(200)
  @ApiBody({ type: CreateConversationBodyDto, required: false })
  @ApiOkResponse({ type: ConversationObjectDto })
  @ApiErrors('invalid_field', 'missing_field', 'storage_error')
  create(@CurrentKey() auth: AuthContext, @Body() body: unknown) {
    return this.conversations.create(auth, body);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Retrieve a conversation' })
  @ApiOkResponse({ type: ConversationObjectDto })
  @ApiErrors('conversation_not_found', 'storage_error')
  get(@CurrentKey() auth: AuthContext, @Param('id') id: string) {
    return this.conversations.get(auth, id);
  }

  @Post(':id')
  @ApiOperation({ summary: "Update a conversation's metadata" })
  @HttpCode(200)
  @ApiBody({ type: UpdateConversationBodyDto })
  @ApiOkResponse({ type: ConversationObjectDto })
  @ApiErrors('conversation_not_found', 'invalid_field', 'missing_field', 'storage_error')
  update(@CurrentKey() auth: AuthContext, @Param('id') id: string, @Body() body: unknown) {
    return this.conversations.update(auth, id, body);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete a conversation' })
  @ApiOkResponse({ type: DeletedConversationObjectDto })
  @ApiErrors('conversation_not_found', 'conversation_busy', 'storage_error')
  delete(@CurrentKey() auth: AuthContext, @Param('id') id: string) {
    return this.conversations.delete(auth, id);
  }

  @Post(':id/items')
  @ApiOperation({ summary: 'Add up to 20 items to a conversation' })
  @HttpCode(200)
  @ApiBody({ type: AddItemsBodyDto })
  @ApiOkResponse({ type: ItemListResponseDto, description: 'The items added, in order' })
  @ApiErrors(
    'conversation_not_found',
    'conversation_busy',
    'invalid_field',
    'missing_field',
    'storage_error',
  )
  addItems(@CurrentKey() auth: AuthContext, @Param('id') id: string, @Body() body: unknown) {
    return this.conversations.addItems(auth, id, body);
  }

  @Get(':id/items')
  @ApiOperation({ summary: "List a conversation's items" })
  @ApiOkResponse({ type: ItemListResponseDto, description: 'Newest first unless order=asc' })
  @ApiErrors('conversation_not_found', 'invalid_field', 'storage_error')
  listItems(
    @CurrentKey() auth: AuthContext,
    @Param('id') id: string,
    @Query() query: ListItemsQueryDto,
  ) {
    return this.conversations.listItems(auth, id, query);
  }

  @Get(':id/items/:itemId')
  @ApiOperation({ summary: 'Retrieve one item of a conversation' })
  @ApiOkResponse({ type: ResponseItemDto })
  @ApiErrors('conversation_not_found', 'storage_error')
  getItem(
    @CurrentKey() auth: AuthContext,
    @Param('id') id: string,
    @Param('itemId') itemId: string,
  ) {
    return this.conversations.getItem(auth, id, itemId);
  }

  @Delete(':id/items/:itemId')
  @ApiOperation({ summary: 'Delete an item; later turns no longer forward it' })
  @ApiOkResponse({ type: ConversationObjectDto, description: 'The conversation' })
  @ApiErrors('conversation_not_found', 'conversation_busy', 'storage_error')
  deleteItem(
    @CurrentKey() auth: AuthContext,
    @Param('id') id: string,
    @Param('itemId') itemId: string,
  ) {
    return this.conversations.deleteItem(auth, id, itemId);
  }
}
