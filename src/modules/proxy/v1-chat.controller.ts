import { Controller, Req, Res } from '@nestjs/common';
import { ApiBearerAuth, ApiSecurity, ApiTags } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { CHAT_REQUEST_ERRORS, MODEL_REQUEST_ERRORS } from 'src/modules/proxy/route-errors';
import { V1Route } from 'src/modules/proxy/v1-route.decorator';
import { ChatCompletionsService } from 'src/modules/proxy/chat-completions.service';
import {
  ChatCompletionRequestDto,
  ChatCompletionResponseDto,
  EmbeddingsRequestDto,
  EmbeddingsResponseDto,
} from 'src/modules/proxy/dto/chat-completion.dto';
import { EmbeddingsService } from 'src/modules/proxy/embeddings.service';
import { sendJsonAnswer, sendV1Answer } from 'src/modules/proxy/json-answer';

@ApiTags('v1')
@ApiBearerAuth('bearer')
@ApiSecurity('x-api-key')
@Controller('v1')
export class V1ChatController {
  constructor(
    private readonly chat: ChatCompletionsService,
    private readonly embeddings: EmbeddingsService,
  ) {}

  @V1Route('chat/completions', {
    summary: 'OpenAI Chat Completions, JSON or SSE',
    body: ChatCompletionRequestDto,
    response: ChatCompletionResponseDto,
    description:
      'The upstream answer, passed through. With stream: true, server-sent events ending with data: [DONE], or with one data: {"error": …} event when the stream fails after it started.',
    requestErrors: CHAT_REQUEST_ERRORS,
    isChat: true,
  })
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

  @V1Route('embeddings', {
    summary: 'OpenAI Embeddings, passed through',
    body: EmbeddingsRequestDto,
    response: EmbeddingsResponseDto,
    description: 'The upstream answer, passed through',
    requestErrors: MODEL_REQUEST_ERRORS,
    isChat: false,
  })
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
        log: request.log,
      }),
    }));
  }
}
