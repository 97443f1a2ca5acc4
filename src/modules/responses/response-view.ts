import { StoredMessage } from 'src/modules/conversations/conversation.types';
import { ERROR_CATALOG, ErrorCode } from 'src/common/errors/error-catalog';
import { JsonObject } from 'src/kernel/json';
import { ResponseStatus, ResponseView } from 'src/modules/responses/response-object';
import { ResponseRecord } from 'src/modules/responses/responses.repository';
import { storedToItems } from 'src/modules/responses/response-items';

/**
 * A stored response's status, read from its turn: no answer yet → `in_progress`; a stored
 * answer → its status (`completed`, or `incomplete` when the model hit `max_output_tokens`
 * or the stream was cut); a failed turn → `failed`. One derivation for the answer to
 * `POST`, the final stream event and `GET`, so they never disagree.
 */
export function statusOf(
  answer: StoredMessage | null,
  record: { cancelRequestedAt: number | null },
  isInputFailed = false,
): ResponseStatus {
  if (!answer) {
    // A turn failed without an answer: its process died and the reaper resolved it.
    return isInputFailed ? 'failed' : 'in_progress';
  }
  if (record.cancelRequestedAt !== null && answer.status !== 'completed') {
    return 'cancelled';
  }
  if (answer.status === 'failed') {
    return 'failed';
  }
  if (answer.status === 'completed' && answer.finishReason !== 'length') {
    return 'completed';
  }
  return answer.status === 'pending' ? 'in_progress' : 'incomplete';
}

/** The response object's parts from its record and the turn's stored answer. */
export function viewOf(
  record: ResponseRecord,
  answer: StoredMessage | null,
  isInputFailed = false,
): ResponseView {
  const status = statusOf(answer, record, isInputFailed);
  const code = answer?.errorCode as ErrorCode | null | undefined;
  return {
    id: record.id,
    createdAt: record.createdAt,
    status,
    model: record.model,
    settings: record.settings,
    previousResponseId: record.previousResponseId,
    output: answer && answer.status !== 'failed' ? storedToItems(answer) : [],
    usage:
      answer && answer.promptTokens !== null
        ? { inputTokens: answer.promptTokens, outputTokens: answer.completionTokens ?? 0 }
        : null,
    error:
      status === 'failed' && isInputFailed && !code
        ? { code: 'internal_error', message: 'The gateway stopped before the response finished' }
        : status === 'failed' && code
          ? { code, message: ERROR_CATALOG[code]?.title ?? 'The response failed' }
          : null,
    finishReason: answer?.finishReason ?? null,
  };
}

/**
 * The turn's answer among its messages: the assistant message the gateway wrote (it names
 * the model that answered; assistant messages the client sent as input do not), or null.
 */
export function answerOf(turnMessages: StoredMessage[]): StoredMessage | null {
  return turnMessages.find((m) => m.role === 'assistant' && m.model !== null) ?? null;
}

/** The turn's input items (every stored message of the turn but the answer). */
export function inputItemsOf(turnMessages: StoredMessage[]): JsonObject[] {
  const answer = answerOf(turnMessages);
  return turnMessages.filter((m) => m !== answer).flatMap(storedToItems);
}

/** The response object's parts from its record and every message its turn stored. */
export function viewOfTurn(record: ResponseRecord, turnMessages: StoredMessage[]): ResponseView {
  const answer = answerOf(turnMessages);
  const isInputFailed = !answer && turnMessages.some((m) => m.status === 'failed');
  return viewOf(record, answer, isInputFailed);
}
