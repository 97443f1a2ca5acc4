import { Controller, Post, Req, Res } from '@nestjs/common';
import {
  ApiBearerAuth,
  ApiBody,
  ApiOkResponse,
  ApiOperation,
  ApiProduces,
  ApiSecurity,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { HotRoute } from 'src/common/http/hot-routes/hot-route.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import {
  CHAT_REQUEST_ERRORS,
  MODEL_REQUEST_ERRORS,
  UPSTREAM_ERRORS,
} from 'src/modules/proxy/route-errors';
import { ChatCompletionsService } from 'src/modules/proxy/chat-completions.service';
import {
  ChatCompletionRequestDto,
  ChatCompletionResponseDto,
  EmbeddingsRequestDto,
  EmbeddingsResponseDto,
} from 'src/modules/proxy/dto/chat-completion.dto';
import { EmbeddingsService } from 'src/modules/proxy/embeddings.service';
import { sendJsonAnswer, sendV1Answer } from 'src/modules/proxy/json-answer';
import { HEADER } from 'src/common/http/headers';
import { headerRef } from 'src/openapi-conventions';

@ApiTags('v1')
@ApiBearerAuth('bearer')
@ApiSecurity('x-api-key')
@Controller('v1')
export class V1ChatController {
  constructor(
    private readonly chat: ChatCompletionsService,
    private readonly embeddings: EmbeddingsService,
  ) {}

  @HotRoute()
  @Post('chat/completions')
  @ApiOperation({ summary: 'OpenAI Chat Completions, JSON or SSE' })
  @ApiBody({ type: ChatCompletionRequestDto })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOkResponse({
    type: ChatCompletionResponseDto,
    headers: { [HEADER.applied]: headerRef(HEADER.applied) },
    description:
      'The upstream answer, passed through. With stream: true, server-sent events ending with data: [DONE], or with one data: {"error": …} event when the stream fails after it started.',
  })
  @ApiErrors(
    'missing_authorization',
    'invalid_authorization',
    ...CHAT_REQUEST_ERRORS,
    ...UPSTREAM_ERRORS,
  )
  async chatCompletions(
    @CurrentKey() auth: AuthContext,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const prepared = this.chat.prepare(auth, request.body);
    request.modelAlias = prepared.model.alias;
    await sendV1Answer(reply, request.id, {
      isStream: prepared.isStream,
      stream: (options) => this.chat.stream(reply, prepared, options),
      complete: (options) => this.chat.complete(prepared, options),
      applied: () => this.chat.appliedHeader(prepared),
    });
  }

  @HotRoute()
  @Post('embeddings')
  @ApiOperation({ summary: 'OpenAI Embeddings, passed through' })
  @ApiBody({ type: EmbeddingsRequestDto })
  @ApiOkResponse({
    type: EmbeddingsResponseDto,
    description: 'The upstream answer, passed through',
  })
  @ApiErrors(
    'missing_authorization',
    'invalid_authorization',
    ...MODEL_REQUEST_ERRORS,
    ...UPSTREAM_ERRORS,
  )
  async createEmbeddings(
    @CurrentKey() auth: AuthContext,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    const prepared = this.embeddings.prepare(auth, request.body);
    request.modelAlias = prepared.model.alias;
    await sendJsonAnswer(reply, async (signal) => ({
      bytes: await this.embeddings.create(prepared, {
        signal,
        requestId: request.id,
      }),
    }));
  }
}
