import { Injectable, Inject } from '@nestjs/common';
import { Clock, CLOCK, systemClock } from 'src/common/time/clock';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiError } from 'src/common/errors/api-error';
import {
  decodeCursor,
  encodeCursor,
  toConversationDetail,
  toConversationResponse,
} from 'src/modules/conversations/conversation.presenter';
import { parseConversationId } from 'src/modules/conversations/conversation-id';
import { ConversationRecord } from 'src/modules/conversations/conversation.types';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
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

export function conversationNotFound(param: string | null = null): ApiError {
  return new ApiError('conversation_not_found', 'No conversation with this id belongs to you', {
    param,
  });
}

/**
 * Reading and shaping conversations. Ownership is the caller's `userId`: a conversation of
 * anyone else answers exactly like a missing one (404 `conversation_not_found`), never 403.
 */
@Injectable()
export class ConversationsService {
  constructor(
    private readonly repository: ConversationsRepository,
    @Inject(CLOCK) private readonly clock: Clock = systemClock,
  ) {}

  /**
   * The caller's conversation by either spelling of its id, or 404 (also for a malformed id:
   * existence is not disclosed).
   */
  async findOwned(
    auth: AuthContext,
    id: string,
    param: string | null = null,
  ): Promise<ConversationRecord> {
    const uuid = parseConversationId(id);
    const conversation = uuid ? await this.repository.findConversation(auth.userId, uuid) : null;
    if (!conversation) {
      throw conversationNotFound(param);
    }
    return conversation;
  }

  async list(
    auth: AuthContext,
    query: ListConversationsQueryDto,
  ): Promise<ConversationListResponseDto> {
    const limit = Math.min(query.limit ?? LIST_LIMIT_DEFAULT, LIST_LIMIT_MAX);
    let after = null;
    if (query.after !== undefined && query.after !== '') {
      after = decodeCursor(query.after);
      if (!after) {
        throw new ApiError('invalid_field', 'after is not a valid cursor', { param: 'after' });
      }
    }
    const rows = await this.repository.listConversations(auth.userId, limit + 1, after);
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit;
    const now = this.clock();
    return {
      object: 'list',
      data: page.map((c) => toConversationResponse(c, now)),
      has_more: hasMore,
      next_cursor: hasMore ? encodeCursor(page[page.length - 1]) : null,
    };
  }

  async get(auth: AuthContext, id: string): Promise<ConversationDetailResponseDto> {
    const conversation = await this.findOwned(auth, id);
    const history = await this.repository.history(conversation.headMessageId);
    return toConversationDetail(conversation, history);
  }

  async update(
    auth: AuthContext,
    id: string,
    dto: UpdateConversationDto,
  ): Promise<ConversationResponseDto> {
    if (dto.title === undefined && dto.metadata === undefined) {
      throw new ApiError('missing_field', 'No fields to update');
    }
    const uuid = parseConversationId(id);
    if (!uuid) {
      throw conversationNotFound();
    }
    const updated = await this.repository.updateConversation(auth.userId, uuid, {
      title: dto.title,
      metadata: dto.metadata,
    });
    if (!updated) {
      throw conversationNotFound();
    }
    return toConversationResponse(updated);
  }

  async remove(auth: AuthContext, id: string): Promise<DeletedConversationResponseDto> {
    const uuid = parseConversationId(id);
    if (!uuid) {
      throw conversationNotFound();
    }
    const outcome = await this.repository.deleteConversation(auth.userId, uuid);
    if (outcome === 'not_found') {
      throw conversationNotFound();
    }
    if (outcome === 'busy') {
      throw new ApiError('conversation_busy', 'A turn of this conversation is in progress');
    }
    return { id: uuid, object: 'conversation.deleted', deleted: true };
  }

  /** A new conversation holding the history up to and including `message_id`. */
  async fork(
    auth: AuthContext,
    id: string,
    dto: ForkConversationDto,
  ): Promise<ConversationDetailResponseDto> {
    const source = await this.findOwned(auth, id);
    const history = await this.repository.history(source.headMessageId);
    const index = history.findIndex((m) => m.id === dto.message_id);
    if (index < 0) {
      throw new ApiError('invalid_field', 'message_id is not a message of this conversation', {
        param: 'message_id',
      });
    }
    if (history[index].status === 'pending') {
      throw new ApiError('conversation_busy', 'message_id belongs to a turn still in progress');
    }
    const fork = await this.repository.forkConversation(source, history[index]);
    return toConversationDetail(fork, history.slice(0, index + 1));
  }
}
