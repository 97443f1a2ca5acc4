import { Injectable } from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiError } from 'src/common/errors/api-error';
import { SearchHitListResponseDto } from 'src/modules/search/dto/search.dto';
import { MessageSearchRepository } from 'src/modules/search/message-search.repository';
import { parseSearchQuery } from 'src/modules/search/search-query';
import { markSubstrings, renderSnippet } from 'src/modules/search/snippet';

/** Ranked pages stop here: past a few thousand hits a user refines the query instead. */
export const SEARCH_MAX_OFFSET = 5_000;

/**
 * `GET /c1/conversations?q=…`: full-text search over the caller's own messages, best match
 * first, paged by an opaque cursor (a position in the ranking; see docs/notes/history.md).
 */
@Injectable()
export class SearchService {
  constructor(private readonly repository: MessageSearchRepository) {}

  async search(
    auth: AuthContext,
    q: string,
    limit: number,
    after: string | undefined,
  ): Promise<SearchHitListResponseDto> {
    const offset = after === undefined || after === '' ? 0 : decodeSearchCursor(after);
    const query = parseSearchQuery(q);
    if (!query || offset >= SEARCH_MAX_OFFSET) {
      return { object: 'list', data: [], has_more: false, next_cursor: null };
    }
    const rows = await this.repository.search(auth.userId, query, limit + 1, offset);
    const page = rows.slice(0, limit);
    const hasMore = rows.length > limit && offset + limit < SEARCH_MAX_OFFSET;
    return {
      object: 'list',
      data: page.map((r) => ({
        object: 'conversation.search_hit',
        conversation_id: r.conversationId,
        message_id: r.messageId,
        role: r.role,
        snippet: renderSnippet(r.snippet ?? markSubstrings(r.body, query.terms)),
        created_at: Math.floor(r.createdAt / 1000),
      })),
      has_more: hasMore,
      next_cursor: hasMore ? encodeSearchCursor(offset + limit) : null,
    };
  }
}

function encodeSearchCursor(offset: number): string {
  return Buffer.from(`s:${offset}`).toString('base64url');
}

function decodeSearchCursor(cursor: string): number {
  const match = /^s:(\d{1,7})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'));
  if (!match) {
    throw new ApiError('invalid_field', 'after is not a valid cursor', { param: 'after' });
  }
  return Number(match[1]);
}
