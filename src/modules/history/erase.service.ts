import { Injectable } from '@nestjs/common';
import { setImmediate as nextTick } from 'node:timers/promises';
import { ApiError } from 'src/common/errors/api-error';
import type { RequestLog } from 'src/common/logging/request-log';
import { UserDataDeletedResponseDto } from 'src/modules/history/dto/erase.dto';
import { ErasedCounts, HistoryRepository, UserScope } from 'src/modules/history/history.repository';

const TREES_PER_BATCH = 100;
const USER_ID_MAX_LENGTH = 200;
/** The `context` of its lines, as a Nest `Logger('erase')` wrote them. */
const LOG_CONTEXT = { context: 'erase' };

/**
 * `DELETE /api/users/{user_id}/data`: forgets a user's conversations, messages, Idempotency-Keys
 * and search index entries, in short batches (no long write lock). Usage totals stay: they
 * count tokens per key and day and hold no content. Idempotent: a second call answers zeros.
 */
@Injectable()
export class EraseService {
  constructor(private readonly repository: HistoryRepository) {}

  /** `log`: the request's logger; what was erased, or why not, is logged under its `reqId`. */
  async erase(
    userId: string,
    withEndUsers: boolean,
    log: RequestLog,
  ): Promise<UserDataDeletedResponseDto> {
    if (userId === '' || userId.length > USER_ID_MAX_LENGTH) {
      throw new ApiError('invalid_field', `user_id must be 1-${USER_ID_MAX_LENGTH} characters`, {
        param: 'user_id',
      });
    }
    const scope: UserScope = { userId, withEndUsers };
    const counts: ErasedCounts = {
      conversations: 0,
      messages: 0,
      idempotencyKeys: 0,
      searchEntries: 0,
    };
    try {
      counts.searchEntries = await this.repository.countSearchEntries(scope);
      for (;;) {
        const trees = await this.repository.treesOf(scope, TREES_PER_BATCH);
        for (const tree of trees) {
          let deleted: number;
          do {
            deleted = await this.repository.deleteMessagesBatch(tree);
            counts.messages += deleted;
            await nextTick();
          } while (deleted > 0);
          const last = await this.repository.deleteTree(tree);
          counts.conversations += last.conversations;
          counts.messages += last.messages;
        }
        if (trees.length < TREES_PER_BATCH) {
          break;
        }
      }
      for (let n = 1; n > 0;) {
        n = await this.repository.deleteIdempotencyKeysBatch(scope);
        counts.idempotencyKeys += n;
      }
      for (let n = 1; n > 0;) {
        n = await this.repository.deleteSearchEntriesBatch(scope);
      }
    } catch (error) {
      if (error instanceof ApiError) {
        throw error;
      }
      log.error(
        LOG_CONTEXT,
        `erase failed: ${error instanceof Error ? error.message : String(error)}`,
      );
      throw new ApiError(
        'storage_error',
        'The database could not complete the erase; call again to finish it',
        {
          cause: error,
        },
      );
    }
    log.info(
      LOG_CONTEXT,
      `erased user data: ${counts.conversations} conversation(s), ${counts.messages} message(s)`,
    );
    return {
      object: 'user_data.deleted',
      user_id: userId,
      include_end_users: withEndUsers,
      deleted: {
        conversations: counts.conversations,
        messages: counts.messages,
        idempotency_keys: counts.idempotencyKeys,
        search_entries: counts.searchEntries,
      },
    };
  }
}
