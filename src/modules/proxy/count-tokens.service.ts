import { Injectable } from '@nestjs/common';
import { AuthContext } from 'src/common/types/auth-context';
import { requireJsonObject } from 'src/modules/models/constraints/chat-request';
import { JsonObject } from 'src/kernel/json';
import { MessagesService } from 'src/modules/proxy/messages.service';
import { estimateUsage } from 'src/modules/proxy/usage-estimate';

/**
 * A `max_tokens` the Messages checks lower to the model's `max_output_tokens` without an error:
 * `count_tokens` bodies have none, and the count does not depend on it.
 */
const ANY_MAX_TOKENS = Number.MAX_SAFE_INTEGER;

/**
 * `POST /v1/messages/count_tokens` (the Anthropic SDK's `messages.countTokens`): the request is
 * checked exactly as a `/v1/messages` request (model, key, structure, media; `param` naming paths
 * in the Anthropic body) and its prompt counted with the tokenizer the gateway ships (the
 * estimate /v1 uses for abandoned streams: o200k_base over the text, 3 tokens per message).
 * Tool definitions count as their JSON text. Nothing goes upstream, nothing is stored.
 */
@Injectable()
export class CountTokensService {
  constructor(private readonly messages: MessagesService) {}

  async count(auth: AuthContext, rawBody: unknown): Promise<{ input_tokens: number }> {
    const body: JsonObject = {
      ...requireJsonObject(rawBody),
      max_tokens: ANY_MAX_TOKENS,
      stream: false,
    };
    const prepared = this.messages.prepare(auth, body);
    // The translated Chat Completions messages: the system prompt first, blocks as parts.
    const counted: unknown[] = [...(prepared.chat.body.messages as unknown[])];
    if (Array.isArray(body.tools) && body.tools.length > 0) {
      counted.push({ role: 'system', content: JSON.stringify(body.tools) });
    }
    const usage = await estimateUsage(counted, 0);
    return { input_tokens: usage.promptTokens };
  }
}
