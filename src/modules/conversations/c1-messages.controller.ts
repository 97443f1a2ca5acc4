import { Controller, Post, Req, Res } from '@nestjs/common';
import {
  ApiExcludeEndpoint,
  ApiOperation,
  ApiPropertyOptional,
  ApiTags,
  IntersectionType,
} from '@nestjs/swagger';
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
import { MessagesTurnWire } from 'src/modules/conversations/messages-turn-wire';
import {
  AnthropicMessageResponseDto,
  AnthropicMessagesRequestDto,
} from 'src/modules/proxy/dto/messages.dto';

class C1MessagesRequestDto extends IntersectionType(
  AnthropicMessagesRequestDto,
  ConversationTurnFieldsDto,
) {
  @ApiPropertyOptional({
    example: 'echo',
    description: "A catalog alias; after the first turn, omitted means the conversation's model.",
  })
  declare model: string;
}

class C1MessageResponseDto extends IntersectionType(
  AnthropicMessageResponseDto,
  ConversationAnswerFieldsDto,
) {}

/**
 * `POST /c1/messages` (also `/c1/v1/messages`, where the Anthropic SDKs send it): a
 * conversation turn in the Anthropic Messages format.
 */
@ApiTags('conversations')
@ApiKeyAuth()
@Controller('c1')
export class C1MessagesController {
  constructor(
    private readonly turns: C1TurnService,
    private readonly wire: MessagesTurnWire,
  ) {}

  @Post('messages')
  @ApiOperation({
    summary:
      'A conversation turn (Anthropic Messages format); same history as /c1/chat/completions',
  })
  @ApiConversationTurn({
    body: {
      type: C1MessagesRequestDto,
      description:
        'The /v1/messages body, but `messages` holds only the new turn; `system` only on the first turn (the conversation keeps it). Same history as /c1/chat/completions: a conversation may be continued on either endpoint. Also served at /c1/v1/messages, where the Anthropic SDKs send it with base URL …/c1.',
    },
    ok: {
      type: C1MessageResponseDto,
      description:
        'The Anthropic message with conversation_id; x-conversation-id header. Streams: the Messages event sequence as on /v1/messages.',
    },
  })
  async createMessage(
    @CurrentKey() auth: AuthContext,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.turns.handle(this.wire, auth, request, reply);
  }

  /**
   * The Anthropic SDKs append `/v1/messages` to their base URL (which, unlike OpenAI's, has no
   * `/v1`): with `baseURL: "https://host/c1"` they call `/c1/v1/messages`. Same turn; left out
   * of the OpenAPI document so that generated clients get one operation.
   */
  @Post('v1/messages')
  @ApiExcludeEndpoint()
  async createMessageAtSdkPath(
    @CurrentKey() auth: AuthContext,
    @Req() request: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<void> {
    await this.turns.handle(this.wire, auth, request, reply);
  }
}
