import { Controller, Post, Req, Res } from '@nestjs/common';
import { ApiOperation, ApiPropertyOptional, ApiTags, IntersectionType } from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiKeyAuth } from 'src/modules/auth/auth.decorators';
import {
  ApiConversationTurn,
  ConversationAnswerFieldsDto,
  ConversationTurnFieldsDto,
} from 'src/modules/conversations/conversation-turn-api';
import { C1TurnService } from 'src/modules/conversations/c1-turn.service';
import { ChatTurnWire } from 'src/modules/conversations/chat-turn-wire';
import {
  ChatCompletionRequestDto,
  ChatCompletionResponseDto,
} from 'src/modules/proxy/dto/chat-completion.dto';

class C1ChatCompletionRequestDto extends IntersectionType(
  ChatCompletionRequestDto,
  ConversationTurnFieldsDto,
) {
  @ApiPropertyOptional({
    example: 'echo',
    description: "A catalog alias; after the first turn, omitted means the conversation's model.",
  })
  declare model: string;
}

class C1ChatCompletionResponseDto extends IntersectionType(
  ChatCompletionResponseDto,
  ConversationAnswerFieldsDto,
) {}

@ApiTags('conversations')
@ApiKeyAuth()
@Controller('c1')
export class C1ChatController {
  constructor(
    private readonly turns: C1TurnService,
    private readonly wire: ChatTurnWire,
  ) {}

  @Post('chat/completions')
  @ApiOperation({
    summary: 'A conversation turn (Chat Completions format); the gateway keeps the history',
  })
  @ApiConversationTurn({
    body: {
      type: C1ChatCompletionRequestDto,
      description:
        'The /v1 body, but `messages` holds only the new turn; `model` may be omitted after the first turn. A leading system message on a new conversation is its system prompt.',
    },
    ok: {
      type: C1ChatCompletionResponseDto,
      description:
        'The upstream answer with conversation_id; x-conversation-id header. Streams: server-sent events as on /v1.',
    },
  })
  async chatCompletions(
    @CurrentKey() auth: AuthContext,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.turns.handle(this.wire, auth, request, reply);
  }
}
