import { Controller, Post, Req, Res } from '@nestjs/common';
import {
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiProduces,
  ApiProperty,
  ApiPropertyOptional,
  ApiTags,
} from '@nestjs/swagger';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { CurrentKey } from 'src/common/decorators/current-key.decorator';
import { HEADER } from 'src/common/http/headers';
import { AuthContext } from 'src/common/types/auth-context';
import { ApiKeyAuth } from 'src/modules/auth/auth.decorators';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { C1TurnService } from 'src/modules/conversations/c1-turn.service';
import { ChatTurnWire } from 'src/modules/conversations/chat-turn-wire';
import {
  ChatCompletionRequestDto,
  ChatCompletionResponseDto,
} from 'src/modules/proxy/dto/chat-completion.dto';

class C1ChatCompletionRequestDto extends ChatCompletionRequestDto {
  @ApiPropertyOptional({
    description:
      'The conversation to continue (or the x-conversation-id header; both must agree). None: a new conversation.',
  })
  conversation_id?: string;

  @ApiPropertyOptional({
    description:
      "Only run the turn if this is the conversation's last message (else 409 conversation_conflict).",
  })
  expected_last_message_id?: string;
}

class C1ChatCompletionResponseDto extends ChatCompletionResponseDto {
  @ApiProperty() conversation_id: string;
}

@ApiTags('conversations')
@ApiKeyAuth()
@Controller('c1')
export class C1ChatController {
  constructor(
    private readonly turns: C1TurnService,
    private readonly wire: ChatTurnWire,
  ) {}

  @Post('chat/completions')
  @ApiBody({
    type: C1ChatCompletionRequestDto,
    description:
      'The /v1 body, but `messages` holds only the new turn; `model` may be omitted after the first turn. A leading system message on a new conversation is its system prompt.',
  })
  @ApiHeader({ name: HEADER.conversationId, required: false })
  @ApiHeader({
    name: HEADER.idempotencyKey,
    required: false,
    description: 'A retry with the same key and body within 24 h returns the stored answer.',
  })
  @ApiHeader({
    name: HEADER.onDisconnect,
    required: false,
    description:
      '`cancel`: abort the upstream when the client hangs up (default: finish and store).',
  })
  @ApiProduces('application/json', 'text/event-stream')
  @ApiOkResponse({
    type: C1ChatCompletionResponseDto,
    description:
      'The upstream answer with conversation_id; x-conversation-id header. Streams: server-sent events as on /v1.',
  })
  @ApiErrors(
    'missing_field',
    'invalid_field',
    'model_not_in_allowlist',
    'model_access_denied',
    'max_tokens_below_minimum',
    'image_url_not_supported',
    'image_decode_error',
    'media_url_not_supported',
    'conversation_not_found',
    'conversation_busy',
    'conversation_conflict',
    'storage_error',
    'upstream_error',
    'upstream_unavailable',
    'upstream_timeout',
  )
  async chatCompletions(
    @CurrentKey() auth: AuthContext,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.turns.handle(this.wire, auth, request, reply);
  }
}
