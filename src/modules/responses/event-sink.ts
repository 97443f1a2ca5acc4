import type { OutgoingHttpHeaders } from 'node:http';
import type { FastifyReply } from 'fastify';
import { SSE_HEADERS } from 'src/modules/proxy/sse/sse-pipe';
import { ResponseEvent, serializeResponseEvent } from 'src/modules/responses/response-events';

/** Where the events of a response go as they are built. */
export interface ResponseEventSink {
  send(events: ResponseEvent[]): void;
  /** After the final event; resolves once it is delivered (stored, for a durable sink). */
  end(): void | Promise<void>;
}

/** Events nobody reads (a JSON response: only the final object is answered). */
export const DISCARD_EVENTS: ResponseEventSink = { send: () => undefined, end: () => undefined };

/**
 * A client's SSE response. A client that hangs up only stops the writing: the generation
 * goes on and is stored. Writes are not awaited: a stream is at most one answer long
 * (bounded by `max_output_tokens`), so a slow reader costs that much memory, never more.
 */
export class SseReplySink implements ResponseEventSink {
  private isGone = false;
  private areHeadersSent = false;

  constructor(
    private readonly reply: FastifyReply,
    private readonly headers: Record<string, string>,
  ) {
    reply.raw.on('close', () => {
      if (!reply.raw.writableFinished) {
        this.isGone = true;
      }
    });
  }

  get isClientGone(): boolean {
    return this.isGone;
  }

  send(events: ResponseEvent[]): void {
    if (this.isGone || events.length === 0) {
      return;
    }
    this.sendHeaders();
    this.reply.raw.write(events.map(serializeResponseEvent).join(''));
  }

  end(): void {
    if (this.isGone || this.reply.raw.writableEnded) {
      return;
    }
    this.sendHeaders();
    this.reply.raw.end();
  }

  private sendHeaders() {
    if (this.areHeadersSent) {
      return;
    }
    this.areHeadersSent = true;
    const headers = { ...this.reply.getHeaders(), ...SSE_HEADERS, ...this.headers };
    this.reply.raw.writeHead(200, headers as OutgoingHttpHeaders);
  }
}
