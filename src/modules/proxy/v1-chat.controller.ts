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
import { ChatCompletionsService } from 'src/modules/proxy/chat-completions.service';
import {
  ChatCompletionRequestDto,
  ChatCompletionResponseDto,
  EmbeddingsRequestDto,
  EmbeddingsResponseDto,
} from 'src/modules/proxy/dto/chat-completion.dto';
import { EmbeddingsService } from 'src/modules/proxy/embeddings.service';
import { watchHangUp } from 'src/modules/proxy/hang-up';

const JSON_TYPE = 'application/json; charset=utf-8';

@ApiTags('v1')
@ApiBearerAuth('bearer')
@ApiSecurity('x-api-key')
@Controller('v1')
export class V1ChatController {
  constructor(
    private readonly chat: ChatCompletionsService,
    private readonly embeddings: EmbeddingsService,
  ) {}

  @Post('chat/completions')
  @ApiBody({ type: ChatCompletionRequestDto })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOkResponse({
    type: ChatCompletionResponseDto,
    description:
      'The upstream answer, passed through. With stream: true, server-sent events ending with data: [DONE], or with one data: {"error": …} event when the stream fails after it started.',
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
  async chatCompletions(
    @CurrentKey() auth: AuthContext,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const prepared = this.chat.prepare(auth, request.body);
    request.modelAlias = prepared.model.alias;
    if (prepared.isStream) {
      await this.chat.stream(reply, prepared, {
        onClientGone: 'abort',
        requestId: request.id,
        log: request.log,
      });
      return;
    }
    const hangUp = watchHangUp(reply);
    try {
      const { bytes } = await this.chat.complete(prepared, {
        signal: hangUp.signal,
        requestId: request.id,
        log: request.log,
      });
      const applied = this.chat.appliedHeader(prepared);
      if (applied) {
        void reply.header(HEADER.applied, applied);
      }
      void reply.status(200).header('content-type', JSON_TYPE).send(bytes);
    } finally {
      hangUp.dispose();
    }
  }

  @Post('embeddings')
  @ApiBody({ type: EmbeddingsRequestDto })
  @ApiOkResponse({
    type: EmbeddingsResponseDto,
    description: 'The upstream answer, passed through',
  })
  @ApiErrors(
    'missing_authorization',
    'invalid_authorization',
    'missing_field',
    'invalid_field',
    'model_not_in_allowlist',
    'model_access_denied',
    'upstream_error',
    'upstream_unavailable',
    'upstream_timeout',
  )
  async createEmbeddings(
    @CurrentKey() auth: AuthContext,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const prepared = this.embeddings.prepare(auth, request.body);
    request.modelAlias = prepared.model.alias;
    const hangUp = watchHangUp(reply);
    try {
      const bytes = await this.embeddings.create(prepared, {
        signal: hangUp.signal,
        requestId: request.id,
        log: request.log,
      });
      void reply.status(200).header('content-type', JSON_TYPE).send(bytes);
    } finally {
      hangUp.dispose();
    }
  }
}
