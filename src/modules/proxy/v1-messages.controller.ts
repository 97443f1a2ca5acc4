import { Controller, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { CHAT_REQUEST_ERRORS } from 'src/modules/proxy/route-errors';
import { V1Route } from 'src/modules/proxy/v1-route.decorator';
import {
  AnthropicMessageResponseDto,
  AnthropicMessagesRequestDto,
} from 'src/modules/proxy/dto/messages.dto';
import { anthropicClientHeaders } from 'src/modules/proxy/anthropic-client-headers';
import { sendV1Answer } from 'src/modules/proxy/json-answer';
import { MessagesService } from 'src/modules/proxy/messages.service';

@ApiTags('v1')
@ApiBearerAuth('bearer')
@ApiSecurity('x-api-key')
@Controller('v1')
export class V1MessagesController {
  constructor(private readonly messages: MessagesService) {}

  @V1Route('messages', {
    summary: 'Anthropic Messages, JSON or SSE',
    body: AnthropicMessagesRequestDto,
    response: AnthropicMessageResponseDto,
    description:
      'The Anthropic Messages answer (translated from an openai upstream, passed through from an anthropic one). With stream: true, the Messages event sequence (message_start … message_stop), or an event: error carrying the catalog error when the stream fails after it started.',
    requestErrors: CHAT_REQUEST_ERRORS,
    isChat: true,
  })
  async createMessage(
    @CurrentKey() auth: AuthContext,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const prepared = this.messages.prepare(auth, request.body);
    request.modelAlias = prepared.chat.model.alias;
    const upstreamHeaders = anthropicClientHeaders(request.headers, prepared.chat.model);
    await sendV1Answer(reply, request.id, {
      isStream: prepared.isStream,
      stream: (options) => this.messages.stream(reply, prepared, { ...options, upstreamHeaders }),
      complete: (options) => this.messages.complete(prepared, { ...options, upstreamHeaders }),
      applied: () => this.messages.appliedHeader(prepared),
    });
  }
}
