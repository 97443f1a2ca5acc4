/** The OpenAPI side of the /c1 turn routes: their shared decorator and DTO fields. */
import { applyDecorators, Type } from '@nestjs/common';
import {
  ApiBody,
  ApiHeader,
  ApiOkResponse,
  ApiProduces,
  ApiProperty,
  ApiPropertyOptional,
} from '@nestjs/swagger';
import { HEADER } from 'src/common/http/headers';
import { ApiErrors } from 'src/modules/errors/api-errors.decorator';
import { CHAT_REQUEST_ERRORS, UPSTREAM_ERRORS } from 'src/modules/proxy/route-errors';
import { headerRef } from 'src/openapi-conventions';

/**
 * The OpenAPI description of a /c1 turn route (`/c1/chat/completions`, `/c1/messages`): its
 * body and answer in the endpoint's format, and what every turn shares — the conversation,
 * idempotency and disconnect headers, JSON or SSE, and the error codes of `C1TurnService`.
 */
export function ApiConversationTurn(options: {
  body: { type: Type<unknown>; description: string };
  ok: { type: Type<unknown>; description: string };
}) {
  return applyDecorators(
    ApiBody(options.body),
    // The document lists headers in the reverse order of application (stacked decorators
    // apply bottom-up): this keeps conversation id, idempotency key, on-disconnect.
    ApiHeader({
      name: HEADER.onDisconnect,
      required: false,
      description:
        '`cancel`: abort the upstream when the client hangs up (default: finish and store).',
    }),
    ApiHeader({
      name: HEADER.idempotencyKey,
      required: false,
      description: 'A retry with the same key and body within 24 h returns the stored answer.',
    }),
    ApiHeader({ name: HEADER.conversationId, required: false }),
    ApiProduces('application/json', 'text/event-stream'),
    ApiOkResponse({
      ...options.ok,
      headers: {
        [HEADER.conversationId]: headerRef(HEADER.conversationId),
        [HEADER.applied]: headerRef(HEADER.applied),
      },
    }),
    ApiErrors(
      ...CHAT_REQUEST_ERRORS,
      'conversation_not_found',
      'conversation_busy',
      'conversation_conflict',
      'storage_error',
      ...UPSTREAM_ERRORS,
    ),
  );
}

/** The body fields every /c1 turn adds to its endpoint's /v1 body. */
export class ConversationTurnFieldsDto {
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

/** The field every /c1 answer adds to its endpoint's /v1 answer. */
export class ConversationAnswerFieldsDto {
  @ApiProperty() conversation_id: string;
}
