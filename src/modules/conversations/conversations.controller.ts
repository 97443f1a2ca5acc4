import { Body, Controller, Delete, Get, Param, Patch, Post, Query } from '@nestjs/common';
import {
  ApiCreatedResponse,
  ApiExtraModels,
  ApiOkResponse,
  ApiOperation,
  ApiTags,
  getSchemaPath,
} from '@nestjs/swagger';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiKeyAuth } from 'src/modules/auth/auth.decorators';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { ConversationsService } from 'src/modules/conversations/conversations.service';
import {
  ConversationDetailResponseDto,
  ConversationListResponseDto,
  ConversationResponseDto,
  DeletedConversationResponseDto,
  ForkConversationDto,
  LIST_LIMIT_DEFAULT,
  LIST_LIMIT_MAX,
  ListConversationsQueryDto,
  UpdateConversationDto,
} from 'src/modules/conversations/dto/conversations.dto';
import { SearchHitListResponseDto } from 'src/modules/search/dto/search.dto';
import { SearchService } from 'src/modules/search/search.service';

@ApiTags('conversations')
@ApiKeyAuth()
@Controller('c1/conversations')
export class ConversationsController {
  constructor(
    private readonly conversations: ConversationsService,
    private readonly search: SearchService,
  ) {}

  @Get()
  @ApiOperation({ summary: "List the caller's conversations, newest first" })
  @ApiExtraModels(ConversationListResponseDto, SearchHitListResponseDto)
  @ApiOkResponse({
    description: 'Newest first; with `q`, the matching messages, best first',
    schema: {
      anyOf: [
        { $ref: getSchemaPath(ConversationListResponseDto) },
        { $ref: getSchemaPath(SearchHitListResponseDto) },
      ],
    },
  })
  @ApiErrors('invalid_field', 'storage_error')
  list(@CurrentKey() key: AuthContext, @Query() query: ListConversationsQueryDto) {
    if (query.q !== undefined) {
      const limit = Math.min(query.limit ?? LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX);
      return this.search.search(key, query.q, limit, query.after);
    }
    return this.conversations.list(key, query);
  }

  @Get(':id')
  @ApiOperation({ summary: 'Get a conversation with its messages' })
  @ApiOkResponse({
    type: ConversationDetailResponseDto,
    description: 'With its messages, in order',
  })
  @ApiErrors('conversation_not_found', 'storage_error')
  get(@CurrentKey() key: AuthContext, @Param('id') id: string) {
    return this.conversations.get(key, id);
  }

  @Patch(':id')
  @ApiOperation({ summary: "Change a conversation's title or metadata" })
  @ApiOkResponse({ type: ConversationResponseDto })
  @ApiErrors('conversation_not_found', 'missing_field', 'invalid_field', 'storage_error')
  update(
    @CurrentKey() key: AuthContext,
    @Param('id') id: string,
    @Body() dto: UpdateConversationDto,
  ) {
    return this.conversations.update(key, id, dto);
  }

  @Delete(':id')
  @ApiOperation({ summary: 'Delete a conversation and its messages' })
  @ApiOkResponse({ type: DeletedConversationResponseDto })
  @ApiErrors('conversation_not_found', 'conversation_busy', 'storage_error')
  remove(@CurrentKey() key: AuthContext, @Param('id') id: string) {
    return this.conversations.remove(key, id);
  }

  @Post(':id/fork')
  @ApiOperation({ summary: 'Fork a conversation at a message (edit and retry, branching)' })
  @ApiCreatedResponse({
    type: ConversationDetailResponseDto,
    description: 'A new conversation holding the history up to and including message_id',
  })
  @ApiErrors(
    'conversation_not_found',
    'conversation_busy',
    'missing_field',
    'invalid_field',
    'storage_error',
  )
  fork(@CurrentKey() key: AuthContext, @Param('id') id: string, @Body() dto: ForkConversationDto) {
    return this.conversations.fork(key, id, dto);
  }
}
