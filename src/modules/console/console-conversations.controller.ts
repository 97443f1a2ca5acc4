import { Controller, Delete, Get, Param, Query } from '@nestjs/common';
import { ApiOkResponse, ApiOperation, ApiTags } from '@nestjs/swagger';
import { AuthContext } from 'src/common/types/auth-context';
import { AdminOnly } from 'src/modules/auth/auth.decorators';
import { isValidUserId, USER_ID_MAX_LENGTH } from 'src/modules/auth/user-id';
import { ConversationsService } from 'src/modules/conversations/conversations.service';
import {
  ConversationDetailResponseDto,
  ConversationListResponseDto,
  DeletedConversationResponseDto,
  ListConversationsQueryDto,
} from 'src/modules/conversations/dto/conversations.dto';
import { ApiError } from 'src/common/errors/api-error';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import {
  ConversationForksRepository,
  ForkSummary,
} from 'src/modules/console/conversation-forks.repository';

/**
 * An operator's view of any user's conversations: the same service and answers as the user's
 * own `/c1/conversations`, called as that user (a conversation of another user is the same 404
 * as a missing one).
 */
@ApiTags('conversations')
@AdminOnly()
@Controller('api/users/:user_id/conversations')
export class ConsoleConversationsController {
  constructor(
    private readonly conversations: ConversationsService,
    private readonly forks: ConversationForksRepository,
  ) {}

  @Get()
  @ApiOperation({ summary: "A user's conversations, most recently updated first (operator)" })
  @ApiOkResponse({ type: ConversationListResponseDto })
  @ApiErrors('invalid_field')
  list(
    @Param('user_id') userId: string,
    @Query() query: ListConversationsQueryDto,
  ): Promise<ConversationListResponseDto> {
    return this.conversations.list(actingAs(userId), query);
  }

  @Get(':id')
  @ApiOperation({ summary: "A user's conversation with its messages and its forks (operator)" })
  @ApiOkResponse({ type: ConversationDetailResponseDto })
  @ApiErrors('invalid_field', 'conversation_not_found')
  async get(
    @Param('user_id') userId: string,
    @Param('id') id: string,
  ): Promise<ConversationDetailResponseDto & { forks: ForkSummary[] }> {
    const detail = await this.conversations.get(actingAs(userId), id);
    return { ...detail, forks: await this.forks.relatedTo(userId, detail.id) };
  }

  @Delete(':id')
  @ApiOperation({ summary: "Delete a user's conversation (operator)" })
  @ApiOkResponse({ type: DeletedConversationResponseDto })
  @ApiErrors('invalid_field', 'conversation_not_found')
  remove(
    @Param('user_id') userId: string,
    @Param('id') id: string,
  ): Promise<DeletedConversationResponseDto> {
    return this.conversations.remove(actingAs(userId), id);
  }
}

/** The context the conversations service reads ownership from: only `userId` matters there. */
function actingAs(userId: string): AuthContext {
  if (!isValidUserId(userId)) {
    throw new ApiError(
      'invalid_field',
      `user_id must be 1 to ${USER_ID_MAX_LENGTH} visible ASCII characters`,
      { param: 'user_id' },
    );
  }
  return {
    keyId: 'operator',
    keyHash: '',
    userId,
    role: 'user',
    allowedModels: null,
    rateLimit: null,
    tokenQuota: null,
  };
}
