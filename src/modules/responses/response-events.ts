import { JsonObject } from 'src/kernel/json';
import { NeutralMessage, NeutralPart } from 'src/kernel/neutral-history';
import { AssembledChoice } from 'src/modules/proxy/wire/openai/stream-accumulator';
import {
  functionCallItem,
  functionCallItemId,
  messageItemId,
  outputMessageItem,
} from 'src/modules/responses/response-items';

/** One typed event of a Responses stream (`type`, `sequence_number` and its fields). */
export type ResponseEvent = JsonObject & { type: string; sequence_number: number };

interface OpenText {
  kind: 'text';
  outputIndex: number;
  text: string;
}

interface OpenCall {
  kind: 'call';
  outputIndex: number;
  /** Index among this answer's tool calls (the `fc_<id>_<n>` item id). */
  callIndex: number;
  id: string;
  name: string;
  arguments: string;
}

/**
 * Chat Completions stream chunks → the Responses API's typed events, as they arrive (no
 * buffering): text opens a `message` item with one `output_text` part, each tool call a
 * `function_call` item; `finish` closes the open items in order and adds the final
 * `response.completed` | `response.incomplete` | `response.failed`. Every event carries the
 * next `sequence_number` (from `firstSequence`, so a resumed stream continues the count).
 * The same builder serves a JSON answer (events discarded, `output` kept), so JSON, streamed
 * and background responses cannot disagree.
 */
export class ResponseEventBuilder {
  private sequence: number;
  private text: OpenText | null = null;
  private readonly calls = new Map<number, OpenCall>();
  private readonly ordered: Array<OpenText | OpenCall> = [];
  private finishReason: string | null = null;

  constructor(
    /** The stored assistant message's id: item ids derive from it. */
    private readonly messageId: string,
    firstSequence = 0,
  ) {
    this.sequence = firstSequence;
  }

  get reason(): string | null {
    return this.finishReason;
  }

  /** `response.created` and `response.in_progress` for the response as it starts. */
  start(response: JsonObject): ResponseEvent[] {
    return [
      this.event('response.created', { response }),
      this.event('response.in_progress', { response }),
    ];
  }

  /** The events of one Chat Completions chunk. */
  push(chunk: JsonObject): ResponseEvent[] {
    const choices = chunk.choices;
    if (!Array.isArray(choices) || choices.length === 0) {
      return [];
    }
    const choice = choices[0] as JsonObject;
    const delta = (choice.delta ?? {}) as JsonObject;
    const events: ResponseEvent[] = [];
    if (typeof delta.content === 'string' && delta.content !== '') {
      this.pushText(delta.content, events);
    }
    if (Array.isArray(delta.tool_calls)) {
      for (const raw of delta.tool_calls as JsonObject[]) {
        this.pushCall(raw, events);
      }
    }
    if (typeof choice.finish_reason === 'string') {
      this.finishReason = choice.finish_reason;
    }
    return events;
  }

  /**
   * A non-streamed answer's choice, as the one chunk that would carry all of it: a JSON
   * response is built by the same rules as a streamed one.
   */
  pushChoice(choice: AssembledChoice): ResponseEvent[] {
    const { content, tool_calls: calls } = choice.message;
    const delta: JsonObject = { content };
    if (calls) {
      delta.tool_calls = calls.map((call, index) => ({ index, ...call }));
    }
    return this.push({ choices: [{ delta, finish_reason: choice.finish_reason }] });
  }

  /**
   * Closes the open items and ends the stream with the final response object: its `status`
   * names the last event (`response.completed`, `.incomplete`, `.failed`, `.cancelled`).
   */
  finish(response: JsonObject): ResponseEvent[] {
    const status = response.status as string;
    const events: ResponseEvent[] = [];
    const itemStatus = status === 'completed' ? 'completed' : 'incomplete';
    for (const open of this.ordered) {
      if (open.kind === 'text') {
        const item = outputMessageItem(this.messageId, open.text, itemStatus);
        const part = (item.content as JsonObject[])[0];
        const ids = { item_id: item.id as string, output_index: open.outputIndex };
        events.push(
          this.event('response.output_text.done', {
            ...ids,
            content_index: 0,
            text: open.text,
            logprobs: [],
          }),
          this.event('response.content_part.done', { ...ids, content_index: 0, part }),
          this.event('response.output_item.done', { output_index: open.outputIndex, item }),
        );
      } else {
        const item = functionCallItem(this.messageId, open.callIndex, open, itemStatus);
        events.push(
          this.event('response.function_call_arguments.done', {
            item_id: item.id,
            output_index: open.outputIndex,
            name: open.name,
            arguments: open.arguments,
          }),
          this.event('response.output_item.done', { output_index: open.outputIndex, item }),
        );
      }
    }
    this.ordered.length = 0;
    const type = FINAL_EVENT[status] ?? 'response.incomplete';
    events.push(this.event(type, { response }));
    return events;
  }

  /** The answer so far in neutral form (what is stored): text first, then tool calls. */
  answer(): NeutralMessage {
    const parts: NeutralPart[] = [];
    for (const open of this.ordered) {
      parts.push(
        open.kind === 'text'
          ? { type: 'text', text: open.text }
          : { type: 'tool_call', id: open.id, name: open.name, arguments: open.arguments },
      );
    }
    return { role: 'assistant', parts };
  }

  private pushText(delta: string, events: ResponseEvent[]) {
    if (!this.text) {
      const outputIndex = this.ordered.length;
      this.text = { kind: 'text', outputIndex, text: '' };
      this.ordered.push(this.text);
      const item = {
        type: 'message',
        id: messageItemId(this.messageId),
        status: 'in_progress',
        role: 'assistant',
        content: [],
      };
      events.push(
        this.event('response.output_item.added', { output_index: outputIndex, item }),
        this.event('response.content_part.added', {
          item_id: item.id,
          output_index: outputIndex,
          content_index: 0,
          part: { type: 'output_text', text: '', annotations: [], logprobs: [] },
        }),
      );
    }
    this.text.text += delta;
    events.push(
      this.event('response.output_text.delta', {
        item_id: messageItemId(this.messageId),
        output_index: this.text.outputIndex,
        content_index: 0,
        delta,
        logprobs: [],
      }),
    );
  }

  private pushCall(raw: JsonObject, events: ResponseEvent[]) {
    const index = typeof raw.index === 'number' ? raw.index : this.calls.size;
    const fn = (raw.function ?? {}) as JsonObject;
    let call = this.calls.get(index);
    if (!call) {
      const outputIndex = this.ordered.length;
      call = {
        kind: 'call',
        outputIndex,
        callIndex: this.calls.size,
        id: typeof raw.id === 'string' ? raw.id : `call_${this.messageId}_${this.calls.size}`,
        name: typeof fn.name === 'string' ? fn.name : '',
        arguments: '',
      };
      this.calls.set(index, call);
      this.ordered.push(call);
      const item = functionCallItem(this.messageId, call.callIndex, call, 'in_progress');
      events.push(this.event('response.output_item.added', { output_index: outputIndex, item }));
    }
    if (typeof fn.arguments === 'string' && fn.arguments !== '') {
      call.arguments += fn.arguments;
      events.push(
        this.event('response.function_call_arguments.delta', {
          item_id: functionCallItemId(this.messageId, call.callIndex),
          output_index: call.outputIndex,
          delta: fn.arguments,
        }),
      );
    }
  }

  /**
   * An `error` event numbered as the next event, without taking the number: for a stream that
   * ends on it, when its final events could not be built (see `ResponseTurnSink`).
   */
  error(code: string, message: string): ResponseEvent {
    return { type: 'error', sequence_number: this.sequence, code, message, param: null };
  }

  private event(type: string, fields: JsonObject): ResponseEvent {
    return { type, sequence_number: this.sequence++, ...fields };
  }
}

const FINAL_EVENT: Record<string, string> = {
  completed: 'response.completed',
  incomplete: 'response.incomplete',
  failed: 'response.failed',
  cancelled: 'response.cancelled',
};

/** One event as server-sent event text, named as OpenAI names them. */
export function serializeResponseEvent(event: ResponseEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * Events as server-sent event text, byte for byte as `serializeResponseEvent` gives them; a
 * response object carried by consecutive events (`response.created` and
 * `response.in_progress` share one) is serialised once.
 */
export function serializeResponseEvents(events: ResponseEvent[]): string {
  let response: unknown = null;
  let responseJson = '';
  let text = '';
  for (const event of events) {
    if (!isResponseEvent(event)) {
      text += serializeResponseEvent(event);
      continue;
    }
    if (event.response !== response) {
      response = event.response;
      responseJson = JSON.stringify(response);
    }
    const head = JSON.stringify({ type: event.type, sequence_number: event.sequence_number });
    text += `event: ${event.type}\ndata: ${head.slice(0, -1)},"response":${responseJson}}\n\n`;
  }
  return text;
}

/** An event made of `type`, `sequence_number` and `response` only, in that order. */
function isResponseEvent(event: ResponseEvent): boolean {
  return event.response !== undefined && Object.keys(event).length === 3;
}
