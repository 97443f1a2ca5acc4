import { HEADER } from 'src/common/http/headers';
import type { PreparedChat } from 'src/kernel/prepared-request';
import type { JsonObject } from 'src/kernel/json';
import { sseErrorEvent } from 'src/modules/proxy/sse/sse-error-event';
import { openAIResponseToAnthropic } from 'src/modules/proxy/wire/anthropic/response-from-openai';
import { OpenAIChatPassThrough } from 'src/modules/proxy/wire/openai/chat-stream';
import { OpenAIToMessagesAdapter } from 'src/modules/proxy/wire/openai/messages-stream';
import { readUsage } from 'src/modules/proxy/wire/openai/stream-events';
import type {
  RequestBody,
  UpstreamOperation,
  WireFormat,
} from 'src/modules/proxy/wire/wire-format';

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
 * history again, and sent as the pieces they are: a long history is not copied into one
 * buffer per turn.
 */
function openAIRequestBody(prepared: PreparedChat, upstreamModel: string): RequestBody {
  const body = prepared.body;
  if (prepared.messagesBytes) {
    // Copied key by key: `messages` may be built only when read (see `PreparedChat`).
    const rest: JsonObject = {};
    for (const key of Object.keys(body)) {
      if (key !== 'messages') {
        rest[key] = body[key];
      }
    }
    rest.model = upstreamModel;
    const tail = Buffer.from(`,${JSON.stringify(rest).slice(1)}`);
    return joinSmallPieces([MESSAGES_KEY, ...prepared.messagesBytes, tail]);
  }
  const alias = body.model;
  body.model = upstreamModel;
  try {
    return JSON.stringify(body);
  } finally {
    body.model = alias;
  }
}

/** Pieces smaller than this are joined with their neighbours: a write each costs more than a copy. */
const SEPARATE_PIECE_BYTES = 16 * 1024;

/** `pieces` with each run of small ones joined; one buffer when that is all there is. */
function joinSmallPieces(pieces: Buffer[]): Buffer | Buffer[] {
  const joined: Buffer[] = [];
  let run: Buffer[] = [];
  const endRun = () => {
    if (run.length > 0) {
      joined.push(run.length === 1 ? run[0] : Buffer.concat(run));
      run = [];
    }
  };
  for (const piece of pieces) {
    if (piece.length >= SEPARATE_PIECE_BYTES) {
      endRun();
      joined.push(piece);
    } else {
      run.push(piece);
    }
  }
  endRun();
  return joined.length === 1 ? joined[0] : joined;
}
