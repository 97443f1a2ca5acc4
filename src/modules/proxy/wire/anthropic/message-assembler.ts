import {
  AnthropicResponse,
  AnthropicResponseBlock,
  AnthropicStopReason,
} from 'src/modules/proxy/wire/anthropic/anthropic.types';
import { isNonEmptyString, parseToolArguments } from 'src/modules/proxy/wire/anthropic/wire-utils';
import { JsonObject, isJsonObject } from 'src/kernel/json';

/**
 * Rebuilds the whole Anthropic message from its stream events, for bookkeeping beside a
 * stream that passes through (usage for quotas, the assistant turn a conversation stores).
 * Pure; tool inputs are parsed from their accumulated JSON pieces when read.
 */
export class AnthropicMessageAssembler {
  private id = '';
  private model = '';
  private readonly blocks: AnthropicResponseBlock[] = [];
  private readonly toolJson = new Map<number, string>();
  private stopReason: AnthropicStopReason | null = null;
  private stopSequence: string | null = null;
  private readonly usage: JsonObject = {};
  private started = false;
  private stopped = false;

  /** `message_stop` was seen: the message is whole. */
  get isComplete(): boolean {
    return this.stopped;
  }

  get hasStarted(): boolean {
    return this.started;
  }

  push(event: unknown): void {
    if (!isJsonObject(event)) {
      return;
    }
    switch (event.type) {
      case 'message_start': {
        const message = isJsonObject(event.message) ? event.message : {};
        this.started = true;
        this.id = typeof message.id === 'string' ? message.id : '';
        this.model = typeof message.model === 'string' ? message.model : '';
        this.mergeUsage(message.usage);
        return;
      }
      case 'content_block_start': {
        const block = isJsonObject(event.content_block) ? event.content_block : null;
        if (block && typeof event.index === 'number') {
          this.blocks[event.index] = { ...block } as unknown as AnthropicResponseBlock;
        }
        return;
      }
      case 'content_block_delta':
        this.applyDelta(event);
        return;
      case 'message_delta': {
        const delta = isJsonObject(event.delta) ? event.delta : {};
        if (typeof delta.stop_reason === 'string') {
          this.stopReason = delta.stop_reason as AnthropicStopReason;
        }
        this.stopSequence = isNonEmptyString(delta.stop_sequence) ? delta.stop_sequence : null;
        this.mergeUsage(event.usage);
        return;
      }
      case 'message_stop':
        this.stopped = true;
        return;
      default:
        return;
    }
  }

  /** The message as assembled so far (complete once `isComplete`). */
  message(): AnthropicResponse {
    const content = this.blocks
      .filter((b): b is AnthropicResponseBlock => b !== undefined)
      .map((block, index) => {
        const json = this.toolJson.get(index);
        if (block.type === 'tool_use' && json !== undefined) {
          return { ...block, input: parseToolArguments(json) ?? {} };
        }
        return block;
      });
    return {
      id: this.id,
      type: 'message',
      role: 'assistant',
      model: this.model,
      content,
      stop_reason: this.stopReason,
      stop_sequence: this.stopSequence,
      usage: {
        input_tokens: numberOr0(this.usage.input_tokens),
        output_tokens: numberOr0(this.usage.output_tokens),
        cache_creation_input_tokens: numberOr0(this.usage.cache_creation_input_tokens),
        cache_read_input_tokens: numberOr0(this.usage.cache_read_input_tokens),
      },
    };
  }

  private applyDelta(event: JsonObject): void {
    const index = typeof event.index === 'number' ? event.index : -1;
    const block = this.blocks[index];
    const delta = isJsonObject(event.delta) ? event.delta : {};
    if (!block) {
      return;
    }
    if (delta.type === 'text_delta' && block.type === 'text' && typeof delta.text === 'string') {
      block.text += delta.text;
    } else if (
      delta.type === 'thinking_delta' &&
      block.type === 'thinking' &&
      typeof delta.thinking === 'string'
    ) {
      block.thinking += delta.thinking;
    } else if (
      delta.type === 'signature_delta' &&
      block.type === 'thinking' &&
      typeof delta.signature === 'string'
    ) {
      block.signature = delta.signature;
    } else if (
      delta.type === 'input_json_delta' &&
      block.type === 'tool_use' &&
      typeof delta.partial_json === 'string'
    ) {
      this.toolJson.set(index, (this.toolJson.get(index) ?? '') + delta.partial_json);
    }
  }

  private mergeUsage(usage: unknown): void {
    if (!isJsonObject(usage)) {
      return;
    }
    for (const [key, value] of Object.entries(usage)) {
      if (typeof value === 'number') {
        this.usage[key] = value;
      }
    }
  }
}

function numberOr0(value: unknown): number {
  return typeof value === 'number' ? value : 0;
}
