import { Injectable } from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiError } from 'src/common/errors/api-error';
import { toConversationDetail } from 'src/modules/conversations/conversation.presenter';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
import { ConversationsService } from 'src/modules/conversations/conversations.service';
import { ConversationDetailResponseDto } from 'src/modules/conversations/dto/conversations.dto';
import { HistoryRepository } from 'src/modules/history/history.repository';

/** Conversations read per batch while exporting everything: bounds the memory an export holds. */
const EXPORT_BATCH = 50;

/**
 * Takes a user's history away: one conversation (JSON or Markdown), or all of them as JSON
 * Lines, read in keyset-paged batches so the export never holds more than one batch.
 */
@Injectable()
export class ExportService {
  constructor(
    private readonly conversations: ConversationsService,
    private readonly conversationStore: ConversationsRepository,
    private readonly history: HistoryRepository,
  ) {}

  /** The conversation with every message and status, as `GET /c1/conversations/{id}` shows it. */
  exportOne(auth: AuthContext, id: string): Promise<ConversationDetailResponseDto> {
    return this.conversations.get(auth, id);
  }

  /**
   * Every conversation of the caller, one at a time, oldest id first. `emit` resolves false
   * when the reader has gone, which stops the export. A conversation deleted meanwhile is
   * skipped; one created meanwhile may or may not be included.
   */
  async exportAll(
    auth: AuthContext,
    emit: (conversation: ConversationDetailResponseDto) => Promise<boolean>,
  ): Promise<number> {
    let after = '';
    let count = 0;
    for (;;) {
      const ids = await this.history.conversationIds(auth.userId, after, EXPORT_BATCH);
      for (const id of ids) {
        const conversation = await this.conversationStore.findConversation(auth.userId, id);
        if (!conversation) {
          continue;
        }
        const messages = await this.conversationStore.history(conversation.headMessageId);
        if (!(await emit(toConversationDetail(conversation, messages)))) {
          return count;
        }
        count += 1;
      }
      if (ids.length < EXPORT_BATCH) {
        return count;
      }
      after = ids[ids.length - 1];
    }
  }
}

/** The error line that ends a JSON Lines export cut short after its headers were sent. */
export function exportErrorLine(error: unknown): string {
  const apiError =
    error instanceof ApiError
      ? error
      : new ApiError('internal_error', 'The export stopped on an internal error');
  return `${JSON.stringify(apiError.toEnvelope())}\n`;
}
