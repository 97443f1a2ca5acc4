import { TokenUsage } from 'src/common/types/usage-sink';
import { errorEnvelope, ErrorEnvelope } from 'src/common/errors/api-error';
import {
  AnthropicErrorEvent,
  AnthropicStreamEvent,
} from 'src/modules/proxy/wire/anthropic/anthropic.types';
import {
  anthropicMessageId,
  fallbackToolUseId,
} from 'src/modules/proxy/wire/anthropic/response-from-openai';
import {
  anthropicStopFromOpenAI,
  anthropicUsageFromOpenAI,
} from 'src/modules/proxy/wire/anthropic/stop-and-usage';
import { isNonEmptyString } from 'src/modules/proxy/wire/anthropic/wire-utils';
import { isJsonObject } from 'src/kernel/json';

export interface OpenAIToAnthropicStreamOptions {
  /** The model the client asked for (the catalog alias). */
  model: string;
  /** The request's `stop_sequences`, to recognise which one ended the answer. */
  stopSequences?: readonly string[];
}

type OpenBlock = { index: number; kind: 'text' | 'thinking' } | { index: number; kind: 'tool' };

interface ToolState {
  /** Content block index once started; null while the name is still unknown. */
  blockIndex: number | null;
  id: string | null;
  name: string | null;
  /** Arguments that arrived before the name (the block cannot start without it). */
  pendingArguments: string;
}

/** `event: <type>\ndata: <json>\n\n`, as the Anthropic API frames every event. */
export function serializeAnthropicEvent(event: AnthropicStreamEvent): string {
  return `event: ${event.type}\ndata: ${JSON.stringify(event)}\n\n`;
}

/**
 * The `event: error` Parley sends when a `/v1/messages` stream fails after its headers: the
 * Anthropic frame (`{"type": "error", "error": {…}}`, which the Anthropic SDKs raise as an
 * APIError) whose `error` member is exactly the catalog envelope's (`type`, `code`, `message`,
 * `param`). Nothing follows it: no `message_delta`, no `message_stop`.
 */
export function anthropicErrorEvent(envelope: ErrorEnvelope): AnthropicErrorEvent {
  return { type: 'error', error: { ...envelope.error } };
}

/**
 * Maps an OpenAI chat completion chunk stream to the Anthropic Messages event sequence. Pure
 * and stateful: feed it each parsed `data:` chunk with `push()`, call `finish()` at `[DONE]`
 * (or at the end of a stream that did report a finish reason), or `fail()` when the stream
 * breaks. Each call returns the events to send, in order.
 *
 * Sequence: `message_start`, `ping`, then per content block `content_block_start`, deltas
 * (`thinking_delta`, `text_delta`, `input_json_delta`), `content_block_stop`; finally
 * `message_delta` (stop reason, usage) and `message_stop`. Blocks open in order of arrival
 * (reasoning, text, tool calls), one at a time, indexed from 0. Tool arguments are forwarded
 * piece by piece as they arrive; each OpenAI tool call index gets its own `tool_use` block.
 */
export class OpenAIToAnthropicStream {
  private started = false;
  private finished = false;
  private nextIndex = 0;
  private open: OpenBlock | null = null;
  private readonly tools = new Map<number, ToolState>();
  private messageId = 'msg_parley';
  private finishReason: unknown = null;
  private upstreamStopReason: unknown = null;
  private refused = false;
  private reportedUsage: unknown = null;

  constructor(private readonly options: OpenAIToAnthropicStreamOptions) {}

  /** True once the upstream reported why it stopped: a stream ending now ended normally. */
  get hasFinishReason(): boolean {
    return this.finishReason !== null;
  }

  get isFinished(): boolean {
    return this.finished;
  }

  /** The usage the upstream reported (prompt tokens include cached ones), or null. */
  get usage(): TokenUsage | null {
    if (!isJsonObject(this.reportedUsage)) {
      return null;
    }
    const n = (v: unknown) => (typeof v === 'number' && v > 0 ? v : 0);
    return {
      promptTokens: n(this.reportedUsage.prompt_tokens),
      completionTokens: n(this.reportedUsage.completion_tokens),
    };
  }

  push(chunk: unknown): AnthropicStreamEvent[] {
    if (this.finished || !isJsonObject(chunk)) {
      return [];
    }
    if (isJsonObject(chunk.error) || chunk.object === 'error') {
      // vLLM and others report a failure inside the stream as a `data:` payload.
      const detail = isJsonObject(chunk.error) ? chunk.error.message : chunk.message;
      return this.fail(
        errorEnvelope(
          'upstream_error',
          `The model server reported: ${typeof detail === 'string' ? detail : 'unknown error'}`,
        ),
      );
    }
    const events = this.start(chunk.id);
    if (isJsonObject(chunk.usage)) {
      this.reportedUsage = chunk.usage;
    }
    const choice: unknown = Array.isArray(chunk.choices)
      ? chunk.choices.find((c: unknown) => isJsonObject(c) && (c.index ?? 0) === 0)
      : undefined;
    if (!isJsonObject(choice)) {
      return events;
    }
    const delta = isJsonObject(choice.delta) ? choice.delta : {};
    const reasoning = delta.reasoning_content ?? delta.reasoning;
    if (isNonEmptyString(reasoning)) {
      events.push(...this.openBlock('thinking'));
      events.push({
        type: 'content_block_delta',
        index: this.nextIndex - 1,
        delta: { type: 'thinking_delta', thinking: reasoning },
      });
    }
    for (const text of [delta.content, delta.refusal]) {
      if (isNonEmptyString(text)) {
        this.refused ||= text === delta.refusal;
        events.push(...this.openBlock('text'));
        events.push({
          type: 'content_block_delta',
          index: this.nextIndex - 1,
          delta: { type: 'text_delta', text },
        });
      }
    }
    if (Array.isArray(delta.tool_calls)) {
      delta.tool_calls.forEach((call: unknown, position: number) => {
        if (isJsonObject(call)) {
          events.push(...this.toolDelta(call, position));
        }
      });
    }
    if (choice.finish_reason !== null && choice.finish_reason !== undefined) {
      this.finishReason = choice.finish_reason;
      this.upstreamStopReason = choice.stop_reason;
    }
    return events;
  }

  /** Ends the message: closes the open block, then `message_delta` and `message_stop`. */
  finish(): AnthropicStreamEvent[] {
    if (this.finished) {
      return [];
    }
    const events = this.start(undefined);
    for (const [openAIIndex, tool] of this.tools) {
      if (tool.blockIndex === null) {
        tool.name ??= 'unknown';
        events.push(...this.toolDelta({ index: openAIIndex }, 0));
      }
    }
    events.push(...this.closeBlock());
    const stop = anthropicStopFromOpenAI(
      this.refused ? 'content_filter' : this.finishReason,
      this.upstreamStopReason,
      this.options.stopSequences ?? [],
      this.tools.size > 0,
    );
    events.push(
      {
        type: 'message_delta',
        delta: { stop_reason: stop.stopReason, stop_sequence: stop.stopSequence },
        usage: anthropicUsageFromOpenAI(this.reportedUsage),
      },
      { type: 'message_stop' },
    );
    this.finished = true;
    return events;
  }

  /** The stream broke (upstream cut, timeout, error event): one `error` event, then nothing. */
  fail(envelope: ErrorEnvelope): AnthropicStreamEvent[] {
    if (this.finished) {
      return [];
    }
    this.finished = true;
    return [anthropicErrorEvent(envelope)];
  }

  /** A keep-alive while the answer is slow (Anthropic sends `ping` events for the same). */
  ping(): AnthropicStreamEvent[] {
    return this.finished ? [] : [{ type: 'ping' }];
  }

  private start(upstreamId: unknown): AnthropicStreamEvent[] {
    if (this.started) {
      return [];
    }
    this.started = true;
    this.messageId = anthropicMessageId(upstreamId);
    return [
      {
        type: 'message_start',
        message: {
          id: this.messageId,
          type: 'message',
          role: 'assistant',
          model: this.options.model,
          content: [],
          stop_reason: null,
          stop_sequence: null,
          // Chat Completions reports usage at the end only: message_delta carries it all.
          usage: { input_tokens: 0, output_tokens: 0 },
        },
      },
      { type: 'ping' },
    ];
  }

  private openBlock(kind: 'text' | 'thinking'): AnthropicStreamEvent[] {
    if (this.open?.kind === kind) {
      return [];
    }
    const events = this.closeBlock();
    const index = this.nextIndex++;
    this.open = { index, kind };
    events.push({
      type: 'content_block_start',
      index,
      content_block:
        kind === 'text'
          ? { type: 'text', text: '' }
          : { type: 'thinking', thinking: '', signature: '' },
    });
    return events;
  }

  private closeBlock(): AnthropicStreamEvent[] {
    if (!this.open) {
      return [];
    }
    const index = this.open.index;
    this.open = null;
    return [{ type: 'content_block_stop', index }];
  }

  private toolDelta(call: Record<string, unknown>, position: number): AnthropicStreamEvent[] {
    const openAIIndex = typeof call.index === 'number' ? call.index : position;
    const fn = isJsonObject(call.function) ? call.function : {};
    let tool = this.tools.get(openAIIndex);
    if (!tool) {
      tool = { blockIndex: null, id: null, name: null, pendingArguments: '' };
      this.tools.set(openAIIndex, tool);
    }
    if (isNonEmptyString(call.id)) {
      tool.id ??= call.id;
    }
    if (isNonEmptyString(fn.name)) {
      tool.name ??= fn.name;
    }
    const args = typeof fn.arguments === 'string' ? fn.arguments : '';
    const events: AnthropicStreamEvent[] = [];
    if (tool.blockIndex === null) {
      if (tool.name === null) {
        tool.pendingArguments += args;
        return events;
      }
      events.push(...this.closeBlock());
      const index = this.nextIndex++;
      tool.blockIndex = index;
      this.open = { index, kind: 'tool' };
      events.push({
        type: 'content_block_start',
        index,
        content_block: {
          type: 'tool_use',
          id: tool.id ?? fallbackToolUseId(this.messageId, openAIIndex),
          name: tool.name,
          input: {},
        },
      });
      const buffered = tool.pendingArguments + args;
      tool.pendingArguments = '';
      if (buffered !== '') {
        events.push(jsonDelta(index, buffered));
      }
      return events;
    }
    if (args !== '') {
      // Servers send one tool call after another; were one to interleave, its pieces still
      // carry the right block index (Anthropic clients accumulate by index).
      events.push(jsonDelta(tool.blockIndex, args));
    }
    return events;
  }
}

function jsonDelta(index: number, partialJson: string): AnthropicStreamEvent {
  return {
    type: 'content_block_delta',
    index,
    delta: { type: 'input_json_delta', partial_json: partialJson },
  };
}
