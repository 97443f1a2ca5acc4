import type { FastifyReply } from 'fastify';
import type { RequestLog } from 'src/common/logging/request-log';
import { JSON_TYPE } from 'src/common/http/headers';
import { HEADER } from 'src/common/http/headers';
import { watchHangUp } from 'src/modules/proxy/hang-up';
import { Cancellation } from 'src/modules/proxy/upstream/cancellation';

/** A non-streamed upstream answer, ready for the client. */
export interface JsonAnswer {
  /** The JSON body, sent byte for byte. */
  bytes: Buffer;
}

/**
 * Runs a non-streamed /v1 call and sends its JSON answer (200). The call gets a signal that
 * aborts the upstream when the client hangs up first (STYLE §8); errors propagate to the
 * exception filter. `applied`: the `x-parley-applied` value, read after the call (it may add
 * notes).
 */
export async function sendJsonAnswer(
  reply: FastifyReply,
  call: (signal: Cancellation) => Promise<JsonAnswer>,
  applied?: () => string | null,
): Promise<void> {
  const hangUp = watchHangUp(reply);
  try {
    const { bytes } = await call(hangUp.signal);
    const notes = applied?.();
    if (notes) {
      void reply.header(HEADER.applied, notes);
    }
    void reply.status(200).header('content-type', JSON_TYPE).send(bytes);
  } finally {
    hangUp.dispose();
  }
}

/** What a /v1 route does with its prepared request, bound to the service that serves it. */
export interface V1Answer {
  isStream: boolean;
  /** Streams the answer to the reply; a client hang-up aborts the upstream. */
  stream(options: { onClientGone: 'abort'; requestId: string; log: RequestLog }): Promise<unknown>;
  /** Runs the call to its JSON answer. */
  complete(options: {
    signal: Cancellation;
    requestId: string;
    log: RequestLog;
  }): Promise<JsonAnswer>;
  /** The `x-parley-applied` value, read after `complete` (the call may add notes). */
  applied(): string | null;
}

/**
 * Answers a /v1 request as the client asked: SSE when it set `stream`, else one JSON body.
 * Not `async`: each level of the call is a promise and a tick on every request.
 */
export function sendV1Answer(
  reply: FastifyReply,
  requestId: string,
  answer: V1Answer,
): Promise<unknown> {
  // The reply's logger is its request's (`request.log`).
  const log = reply.log;
  if (answer.isStream) {
    return answer.stream({ onClientGone: 'abort', requestId, log });
  }
  return sendJsonAnswer(
    reply,
    (signal) => answer.complete({ signal, requestId, log }),
    () => answer.applied(),
  );
}
