import type { OutgoingHttpHeaders } from 'node:http';
import { Controller, Get, Headers, Param, Res } from '@nestjs/common';
import { ApiHeader, ApiOkResponse, ApiProduces, ApiTags, ApiOperation } from '@nestjs/swagger';
import type { FastifyReply } from 'fastify';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { HEADER } from 'src/common/http/headers';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiKeyAuth } from 'src/modules/auth/auth.decorators';
import { ApiError } from 'src/common/errors/api-error';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { SSE_HEADERS } from 'src/modules/proxy/sse/sse-pipe';
import { ConversationsService } from 'src/modules/conversations/conversations.service';
import { LiveTurns } from 'src/modules/conversations/live-turns';
import { withIdOnLastEvent } from 'src/modules/conversations/reattach-event-id';

/**
 * `GET /c1/conversations/{id}/stream`: reattaches to the conversation's turn still generating
 * (a chat tab reloaded mid-answer): the events sent so far, then the rest as they come, in
 * the format of the endpoint that started the turn. Each piece the turn sent carries `id: <n>`
 * on its last event, so that a reconnect with `Last-Event-ID: <n>` skips what the client has.
 */
@ApiTags('conversations')
@ApiKeyAuth()
@Controller('c1/conversations')
export class C1ReattachController {
  constructor(
    private readonly conversations: ConversationsService,
    private readonly live: LiveTurns,
  ) {}

  @Get(':id/stream')
  @ApiOperation({
    summary: 'Reattach to the turn still generating: replay, then follow (Last-Event-ID)',
  })
  @ApiProduces('text/event-stream')
  @ApiHeader({ name: HEADER.lastEventId, required: false })
  @ApiOkResponse({
    description:
      'The running turn, replayed then followed, as server-sent events in the format of the endpoint that started it; each piece of it ends with an event carrying `id: <n>`.',
    schema: { type: 'string' },
  })
  @ApiErrors('conversation_not_found', 'no_active_turn', 'invalid_field', 'storage_error')
  async reattach(
    @CurrentKey() auth: AuthContext,
    @Param('id') id: string,
    @Headers(HEADER.lastEventId) lastEventId: string | undefined,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const conversation = await this.conversations.findOwned(auth, id);
    let after = -1;
    if (lastEventId !== undefined && lastEventId !== '') {
      after = Number(lastEventId);
      if (!Number.isInteger(after) || after < -1) {
        throw new ApiError('invalid_field', 'Last-Event-ID must be an event id of this stream', {
          param: HEADER.lastEventId,
        });
      }
    }
    const turn = this.live.get(conversation.id);
    if (!turn) {
      throw new ApiError('no_active_turn', 'No turn of this conversation is generating', {
        param: null,
      });
    }
    const raw = reply.raw;
    raw.writeHead(200, {
      ...reply.getHeaders(),
      ...SSE_HEADERS,
      [HEADER.conversationId]: conversation.id,
    } as OutgoingHttpHeaders);
    await new Promise<void>((resolve) => {
      let next = after + 1;
      const flush = () => {
        let text = '';
        for (; next < turn.events.length; next++) {
          text += withIdOnLastEvent(turn.events[next], next);
        }
        if (text !== '') {
          raw.write(text);
        }
        if (turn.hasEnded) {
          done();
        }
      };
      const done = () => {
        unfollow();
        raw.removeListener('close', done);
        if (!raw.writableEnded) {
          raw.end();
        }
        resolve();
      };
      const unfollow = turn.follow(flush);
      raw.on('close', done);
      flush();
    });
  }
}
