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

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** A conversation or message id as Parley issues them (random UUIDv4). */
export function isParleyId(id: unknown): id is string {
  return typeof id === 'string' && UUID.test(id);
}

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

  /** The caller's conversation, or 404 (also for a malformed id: existence is not disclosed). */
  async findOwned(
    auth: AuthContext,
    id: string,
    param: string | null = null,
  ): Promise<ConversationRecord> {
    const conversation = isParleyId(id)
      ? await this.repository.findConversation(auth.userId, id)
      : null;
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
    if (!isParleyId(id)) {
      throw conversationNotFound();
    }
    const updated = await this.repository.updateConversation(auth.userId, id, {
      title: dto.title,
      metadata: dto.metadata,
    });
    if (!updated) {
      throw conversationNotFound();
    }
    return toConversationResponse(updated);
  }

  async remove(auth: AuthContext, id: string): Promise<DeletedConversationResponseDto> {
    const outcome = isParleyId(id)
      ? await this.repository.deleteConversation(auth.userId, id)
      : 'not_found';
    if (outcome === 'not_found') {
      throw conversationNotFound();
    }
    if (outcome === 'busy') {
      throw new ApiError('conversation_busy', 'A turn of this conversation is in progress');
    }
    return { id, object: 'conversation.deleted', deleted: true };
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
