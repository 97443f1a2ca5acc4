import { errorEnvelope, ErrorEnvelope } from 'src/common/errors/api-error';
import {
  OpenAIChatChunk,
  OpenAIChunkDelta,
  OpenAIFinishReason,
  OpenAIUsage,
} from 'src/modules/proxy/wire/anthropic/openai-chat.types';
import {
  openAIFinishFromAnthropic,
  openAIUsageFromAnthropic,
} from 'src/modules/proxy/wire/anthropic/stop-and-usage';
import { isNonEmptyString } from 'src/modules/proxy/wire/anthropic/wire-utils';
import { JsonObject, isJsonObject } from 'src/kernel/json';

export type OpenAIStreamOutput =
  | { type: 'chunk'; chunk: OpenAIChatChunk }
  /** `data: [DONE]`: the stream is complete. */
  | { type: 'done' }
  /** The final `data: {"error": …}` event with the catalog envelope; nothing follows. */
  | { type: 'error'; envelope: ErrorEnvelope };

export function serializeOpenAIStreamOutput(output: OpenAIStreamOutput): string {
  switch (output.type) {
    case 'chunk':
      return `data: ${JSON.stringify(output.chunk)}\n\n`;
    case 'done':
      return 'data: [DONE]\n\n';
    case 'error':
      return `data: ${JSON.stringify(output.envelope)}\n\n`;
  }
}

export interface AnthropicToOpenAIStreamOptions {
  /** The model the client asked for (the catalog alias). */
  model: string;
  /** `created` of every chunk, in Unix seconds. */
  created: number;
  /** The client asked for `stream_options.include_usage`: send the usage chunk before [DONE]. */
  includeUsage: boolean;
}

/**
 * Maps the Anthropic Messages event stream to OpenAI chat completion chunks. Pure and
 * stateful: feed it each parsed event with `push()`; it returns what to send. `message_start`
 * → the role chunk; text and thinking deltas → `content` / `reasoning_content` deltas; each
 * `tool_use` block → a tool call (its own `index`, id and name first, then the argument pieces
 * as they arrive); `message_stop` → the finish chunk, the usage chunk when asked for, `[DONE]`.
 * An `error` event → one error output with the catalog envelope (`upstream_error`).
 */
export class AnthropicToOpenAIStream {
  private id = 'msg_parley';
  private finished = false;
  private stopReason: unknown = null;
  private usageSoFar: JsonObject = {};
  private sawUsage = false;
  /** Anthropic content block index → OpenAI tool call index, for tool_use blocks. */
  private readonly toolIndexes = new Map<number, number>();

  constructor(private readonly options: AnthropicToOpenAIStreamOptions) {}

  get isFinished(): boolean {
    return this.finished;
  }

  /** The answer's token usage so far, in OpenAI terms (null until the upstream reported any). */
  get usage(): OpenAIUsage | null {
    return this.sawUsage ? openAIUsageFromAnthropic(this.usageSoFar) : null;
  }

  push(event: unknown): OpenAIStreamOutput[] {
    if (this.finished || !isJsonObject(event)) {
      return [];
    }
    switch (event.type) {
      case 'message_start': {
        const message = isJsonObject(event.message) ? event.message : {};
        if (isNonEmptyString(message.id)) {
          this.id = message.id;
        }
        this.mergeUsage(message.usage);
        return [this.chunk({ role: 'assistant', content: '' })];
      }
      case 'content_block_start':
        return this.blockStart(event);
      case 'content_block_delta':
        return this.blockDelta(event);
      case 'message_delta': {
        if (isJsonObject(event.delta) && event.delta.stop_reason !== undefined) {
          this.stopReason = event.delta.stop_reason;
        }
        this.mergeUsage(event.usage);
        return [];
      }
      case 'message_stop':
        return this.finish();
      case 'error': {
        const error = isJsonObject(event.error) ? event.error : {};
        const detail = typeof error.message === 'string' ? error.message : 'unknown error';
        return this.fail(errorEnvelope('upstream_error', `The model server reported: ${detail}`));
      }
      default:
        // ping, content_block_stop and event types added later carry nothing to translate.
        return [];
    }
  }

  /** Ends the stream as complete: the finish chunk, the usage chunk when asked for, [DONE]. */
  finish(): OpenAIStreamOutput[] {
    if (this.finished) {
      return [];
    }
    this.finished = true;
    const out: OpenAIStreamOutput[] = [this.chunk({}, openAIFinishFromAnthropic(this.stopReason))];
    if (this.options.includeUsage) {
      const usage = this.usage ?? openAIUsageFromAnthropic({});
      out.push({ type: 'chunk', chunk: { ...this.chunk({}).chunk, choices: [], usage } });
    }
    out.push({ type: 'done' });
    return out;
  }

  /** The stream broke: one error output, then nothing. */
  fail(envelope: ErrorEnvelope): OpenAIStreamOutput[] {
    if (this.finished) {
      return [];
    }
    this.finished = true;
    return [{ type: 'error', envelope }];
  }

  private blockStart(event: JsonObject): OpenAIStreamOutput[] {
    const block = isJsonObject(event.content_block) ? event.content_block : {};
    const index = typeof event.index === 'number' ? event.index : -1;
    switch (block.type) {
      case 'text':
        return isNonEmptyString(block.text) ? [this.chunk({ content: block.text })] : [];
      case 'thinking':
        return isNonEmptyString(block.thinking)
          ? [this.chunk({ reasoning_content: block.thinking })]
          : [];
      case 'tool_use': {
        const toolIndex = this.toolIndexes.size;
        this.toolIndexes.set(index, toolIndex);
        const input =
          isJsonObject(block.input) && Object.keys(block.input).length > 0 ? block.input : null;
        return [
          this.chunk({
            tool_calls: [
              {
                index: toolIndex,
                id: isNonEmptyString(block.id) ? block.id : `call_${toolIndex}`,
                type: 'function',
                function: {
                  name: typeof block.name === 'string' ? block.name : '',
                  arguments: input ? JSON.stringify(input) : '',
                },
              },
            ],
          }),
        ];
      }
      default:
        return [];
    }
  }

  private blockDelta(event: JsonObject): OpenAIStreamOutput[] {
    const delta = isJsonObject(event.delta) ? event.delta : {};
    switch (delta.type) {
      case 'text_delta':
        return isNonEmptyString(delta.text) ? [this.chunk({ content: delta.text })] : [];
      case 'thinking_delta':
        return isNonEmptyString(delta.thinking)
          ? [this.chunk({ reasoning_content: delta.thinking })]
          : [];
      case 'input_json_delta': {
        const toolIndex = this.toolIndexes.get(typeof event.index === 'number' ? event.index : -1);
        if (toolIndex === undefined || !isNonEmptyString(delta.partial_json)) {
          return [];
        }
        return [
          this.chunk({
            tool_calls: [{ index: toolIndex, function: { arguments: delta.partial_json } }],
          }),
        ];
      }
      default:
        // signature_delta and citations_delta have no Chat Completions counterpart.
        return [];
    }
  }

  private mergeUsage(usage: unknown): void {
    if (!isJsonObject(usage)) {
      return;
    }
    for (const [key, value] of Object.entries(usage)) {
      // Anthropic's counters are cumulative totals: a later value replaces an earlier one.
      if (typeof value === 'number') {
        this.usageSoFar[key] = value;
        this.sawUsage = true;
      }
    }
  }

  private chunk(
    delta: OpenAIChunkDelta,
    finishReason: OpenAIFinishReason | null = null,
  ): OpenAIStreamOutput & { type: 'chunk' } {
    return {
      type: 'chunk',
      chunk: {
        id: this.id,
        object: 'chat.completion.chunk',
        created: this.options.created,
        model: this.options.model,
        choices: [{ index: 0, delta, finish_reason: finishReason, logprobs: null }],
      },
    };
  }
}
