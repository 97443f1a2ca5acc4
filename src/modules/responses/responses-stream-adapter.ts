import { JsonObject } from 'src/kernel/json';
import type { SseEvent } from 'src/modules/proxy/sse/sse-decoder';
import type { ChatStreamAdapter, StreamAdapter } from 'src/modules/proxy/wire/wire-format';
import {
  ResponseEvent,
  ResponseEventBuilder,
  serializeResponseEvents,
} from 'src/modules/responses/response-events';

/**
 * The upstream's chat stream (read by the wire's own Chat Completions adapter, whatever the
 * upstream speaks) as the Responses API's typed events, for the `StreamRunner`. Each event
 * goes to `onEvents` as it is built (the durable log of a background response) and to the
 * client as SSE text. The final events depend on what is stored, so they are not the
 * terminal upstream event's: the events it produced are held back, and `finalText` (called
 * from the runner's `beforeEnd`, once the turn is stored) sends them with the final response.
 */
export class ResponsesStreamAdapter implements StreamAdapter {
  private readonly chat: ChatStreamAdapter;
  private built: ResponseEvent[] = [];
  private held: ResponseEvent[] = [];
  private isStarted = false;

  constructor(
    chatStream: (observe: (event: SseEvent, chunk: JsonObject | null) => void) => ChatStreamAdapter,
    private readonly builder: ResponseEventBuilder,
    /** The response as it starts (`response.created`, `response.in_progress`). */
    private readonly started: JsonObject,
    private readonly onEvents: (events: ResponseEvent[]) => void,
    /** False when no client reads the stream (JSON, background): nothing is serialised. */
    private readonly isRead: boolean,
  ) {
    this.chat = chatStream((_event, chunk) => {
      if (chunk) {
        this.built.push(...builder.push(chunk));
      }
    });
  }

  get usage() {
    return this.chat.usage;
  }

  get contentEvents(): number {
    return this.chat.contentEvents;
  }

  isTerminal(event: SseEvent): boolean {
    return this.chat.isTerminal(event);
  }

  push(event: SseEvent): string | null {
    this.start();
    this.chat.push(event);
    const events = this.take();
    if (this.chat.isTerminal(event)) {
      this.held = events;
      return null;
    }
    return this.send(events);
  }

  /** The last bytes of the stream: what was held back and the events of `final`. */
  finalText(final: JsonObject): string {
    this.start();
    const events = [...this.held, ...this.take(), ...this.builder.finish(final)];
    this.held = [];
    return this.send(events) ?? '';
  }

  /** `response.created` and `response.in_progress` come first, numbered before the rest. */
  private start(): void {
    if (!this.isStarted) {
      this.isStarted = true;
      this.built.push(...this.builder.start(this.started));
    }
  }

  private take(): ResponseEvent[] {
    const events = this.built;
    this.built = [];
    return events;
  }

  private send(events: ResponseEvent[]): string | null {
    if (events.length === 0) {
      return null;
    }
    this.onEvents(events);
    return this.isRead ? serializeResponseEvents(events) : null;
  }
}
