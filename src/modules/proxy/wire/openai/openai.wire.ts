import { HEADER } from 'src/common/http/headers';
import type { PreparedChat } from 'src/kernel/prepared-request';
import { sseErrorEvent } from 'src/modules/proxy/sse/sse-error-event';
import { openAIResponseToAnthropic } from 'src/modules/proxy/wire/anthropic/response-from-openai';
import { OpenAIChatPassThrough } from 'src/modules/proxy/wire/openai/chat-stream';
import { OpenAIToMessagesAdapter } from 'src/modules/proxy/wire/openai/messages-stream';
import { readUsage } from 'src/modules/proxy/wire/openai/stream-events';
import type { UpstreamOperation, WireFormat } from 'src/modules/proxy/wire/wire-format';

const MESSAGES_KEY = Buffer.from('{"messages":');

const PATHS: Record<UpstreamOperation, string> = {
  chat: '/chat/completions',
  embeddings: '/embeddings',
  models: '/models',
};

/**
 * The OpenAI wire (vLLM, llama.cpp, OpenAI itself): `Authorization: Bearer`, Chat Completions
 * bodies forwarded as the client sent them (the model renamed), answers passed through byte
 * for byte to Chat Completions clients and translated for Messages clients.
 */
export const openAIWire: WireFormat = {
  name: 'openai',
  path: (operation) => PATHS[operation],
  baseHeaders: (apiKey): Record<string, string> =>
    apiKey ? { [HEADER.authorization]: `Bearer ${apiKey}` } : {},
  reportsLoad: true,
  callerOverridableHeaders: [],
  isMessagesNative: false,

  requestBody: openAIRequestBody,

  chatAnswer: (json, bytes) => ({ json, bytes }),

  messagesAnswer: (json, _bytes, context) => {
    const message = openAIResponseToAnthropic(json, {
      model: context.alias,
      stopSequences: context.stopSequences,
    });
    return { message, bytes: Buffer.from(JSON.stringify(message)), usage: readUsage(json) };
  },

  chatStream: (context) => new OpenAIChatPassThrough(context),

  messagesStream: (context) => new OpenAIToMessagesAdapter(context),

  streamError: sseErrorEvent,
};

/**
 * The client's body with the upstream's model name. With `messagesBytes` (/c1: each stored
 * message serialised once), the messages are spliced in as bytes instead of serialising the
 * history again.
 */
function openAIRequestBody(prepared: PreparedChat, upstreamModel: string): string | Buffer {
  const body = prepared.body;
  if (prepared.messagesBytes) {
    const { messages: _serialised, ...rest } = body;
    const tail = Buffer.from(`,${JSON.stringify({ ...rest, model: upstreamModel }).slice(1)}`);
    return Buffer.concat([MESSAGES_KEY, ...prepared.messagesBytes, tail]);
  }
  const alias = body.model;
  body.model = upstreamModel;
  try {
    return JSON.stringify(body);
  } finally {
    body.model = alias;
  }
}
