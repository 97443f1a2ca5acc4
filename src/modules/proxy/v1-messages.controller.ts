import { Controller, Post, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiOkResponse,
  ApiProduces,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { HEADER } from 'src/common/http/headers';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import {
  AnthropicMessageResponseDto,
  AnthropicMessagesRequestDto,
} from 'src/modules/proxy/dto/messages.dto';
import { anthropicClientHeaders } from 'src/modules/proxy/anthropic-client-headers';
import { watchHangUp } from 'src/modules/proxy/hang-up';
import { MessagesService } from 'src/modules/proxy/messages.service';

const JSON_TYPE = 'application/json; charset=utf-8';

@ApiTags('v1')
@ApiBearerAuth('bearer')
@ApiSecurity('x-api-key')
@Controller('v1')
export class V1MessagesController {
  constructor(private readonly messages: MessagesService) {}

  @Post('messages')
  @ApiBody({ type: AnthropicMessagesRequestDto })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOkResponse({
    type: AnthropicMessageResponseDto,
    description:
      'The Anthropic Messages answer (translated from an openai upstream, passed through from an anthropic one). With stream: true, the Messages event sequence (message_start … message_stop), or an event: error carrying the catalog error when the stream fails after it started.',
  })
  @ApiErrors(
    'missing_authorization',
    'invalid_authorization',
    'missing_field',
    'invalid_field',
    'model_not_in_allowlist',
    'model_access_denied',
    'max_tokens_below_minimum',
    'image_url_not_supported',
    'image_decode_error',
    'media_url_not_supported',
    'upstream_error',
    'upstream_unavailable',
    'upstream_timeout',
  )
  async createMessage(
    @CurrentKey() auth: AuthContext,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const prepared = this.messages.prepare(auth, request.body);
    request.modelAlias = prepared.chat.model.alias;
    const headers = anthropicClientHeaders(request.headers);
    if (prepared.isStream) {
      await this.messages.stream(reply, prepared, {
        onClientGone: 'abort',
        requestId: request.id,
        upstreamHeaders: headers,
      });
      return;
    }
    const hangUp = watchHangUp(reply);
    try {
      const { bytes } = await this.messages.complete(prepared, {
        signal: hangUp.signal,
        requestId: request.id,
        upstreamHeaders: headers,
      });
      const applied = this.messages.appliedHeader(prepared);
      if (applied) {
        void reply.header(HEADER.applied, applied);
      }
      void reply.status(200).header('content-type', JSON_TYPE).send(bytes);
    } finally {
      hangUp.dispose();
    }
  }
}
