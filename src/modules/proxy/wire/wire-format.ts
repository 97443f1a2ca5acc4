import { TokenUsage } from 'src/common/types/usage-sink';
import { ApiError } from 'src/common/errors/api-error';
import { JsonObject } from 'src/kernel/json';
import type { PreparedChat } from 'src/kernel/prepared-request';
import type { SseEvent } from 'src/modules/proxy/sse/sse-decoder';
import type { AnthropicResponse } from 'src/modules/proxy/wire/anthropic/anthropic.types';
import type { WireFormatName } from 'src/kernel/wire-format-names';
import type { AssembledCompletion } from 'src/modules/proxy/wire/openai/stream-accumulator';

/**
 * A request body: one string or buffer, or buffers sent one after the other with their total
 * length (a /c1 prompt whose long history is already in bytes is not joined into one copy).
 */
export type RequestBody = string | Buffer | readonly Buffer[];

/**
 * What to call upstream. `chat` is the format's native generation endpoint
 * (`/chat/completions` for `openai`, `/messages` for `anthropic`).
 */
export type UpstreamOperation = 'chat' | 'embeddings' | 'models';

/**
 * Turns one upstream stream into the client's: the stream runner feeds it every upstream event
 * in order (also after a hang-up in `detach` mode) and writes what it returns.
 */
export interface StreamAdapter {
  /**
   * `undefined`: pass the event through as received (the upstream's own bytes); a string:
   * complete SSE text to send instead; `null`: drop it. Throws an `ApiError` for an error the
   * upstream reported inside its stream (the runner ends the stream with it).
   */
  push(event: SseEvent): string | null | undefined;
  /**
   * Optional shortcut for the events that pass through untouched: sees the value of a
   * one-line `data:` event as bytes (`bytes[start, end)`), before anything decodes it. True
   * when the adapter has
   * taken note of the event and would pass it on unchanged (not terminal, no usage, no error):
   * its bytes are then sent as received and `push` is not called. False: it is decoded and
   * pushed. Not called while something else must see every event (a content policy, /c1).
   */
  skim?(bytes: Buffer, start: number, end: number): boolean;
  /** True for the event that completes the client's stream (held back as its last bytes). */
  isTerminal(event: SseEvent): boolean;
  /** Usage reported by the upstream so far (null until it came). */
  readonly usage: TokenUsage | null;
  /** Content events seen: estimates completion tokens when the stream ended without usage. */
  readonly contentEvents: number;
}

/** A `/v1/chat/completions`-shaped stream; `completion()` is the answer assembled so far. */
export interface ChatStreamAdapter extends StreamAdapter {
  completion(): AssembledCompletion | null;
}

/** A `/v1/messages`-shaped stream; `message()` is the answer assembled so far (with `collect`). */
export interface MessagesStreamAdapter extends StreamAdapter {
  message(): AnthropicResponse | null;
}

export interface ChatStreamContext {
  /** The catalog alias: the `model` of translated chunks. */
  alias: string;
  /** The client asked for the usage chunk (otherwise the usage-only chunk is dropped). */
  clientWantsUsage: boolean;
  /** Assemble the answer (`completion()`); otherwise chunks are parsed only when needed. */
  collect: boolean;
  /** Sees each upstream event with the chunk(s) it stands for (null when none), in order. */
  observe?(event: SseEvent, chunk: Record<string, unknown> | null): void;
}

export interface MessagesStreamContext {
  alias: string;
  /** The request's `stop_sequences`, to report which one ended an answer. */
  stopSequences: string[];
  collect: boolean;
}

/** A non-streamed answer in Chat Completions form. */
export interface ChatAnswer {
  json: JsonObject;
  /** What the client receives: the upstream's bytes when no translation was needed. */
  bytes: Buffer;
}

/** A non-streamed answer in Messages form. */
export interface MessagesAnswer {
  message: AnthropicResponse;
  bytes: Buffer;
  usage: TokenUsage | null;
}

/**
 * Everything one upstream wire format means, in one object (`wire/<format>/`): where requests
 * go, how they are authenticated, how a prepared request is written in this format, and how
 * its answers (JSON and streams) become each client surface: Chat Completions (`/v1/chat`,
 * `/c1/chat`) and Anthropic Messages (`/v1/messages`, `/c1/messages`). The upstream client
 * moves bytes and asks the format for paths and headers; the services ask it for bodies and
 * adapters. Looked up by name from `WireFormats`.
 */
export interface WireFormat {
  readonly name: WireFormatName;
  /** The path under the upstream's base URL; throws `ApiError` for what it does not serve. */
  path(operation: UpstreamOperation): string;
  /** Headers sent on every request to an upstream of this format: its auth from the catalog. */
  baseHeaders(apiKey: string | null): Record<string, string>;
  /**
   * The upstream may report its load in a response header when asked (vLLM's
   * `endpoint-load-metrics-format`): the fleet's picker then refreshes its figures for free.
   */
  readonly reportsLoad: boolean;
  /** Caller headers (lower case) that may replace a base header (`anthropic-version`). */
  readonly callerOverridableHeaders: readonly string[];
  /**
   * True when the format itself is the Messages API: `/v1/messages` content it cannot
   * express elsewhere (server tools, document URLs) passes through.
   */
  readonly isMessagesNative: boolean;
  /** The request body for an upstream of this format, with the upstream's model name. */
  requestBody(prepared: PreparedChat, upstreamModel: string): RequestBody;
  /** A parsed JSON answer as a Chat Completions answer; throws `ApiError` when it is not one. */
  chatAnswer(answer: JsonObject, bytes: Buffer, alias: string): ChatAnswer;
  /** A parsed JSON answer as a Messages answer. */
  messagesAnswer(
    answer: JsonObject,
    bytes: Buffer,
    context: Omit<MessagesStreamContext, 'collect'>,
  ): MessagesAnswer;
  chatStream(context: ChatStreamContext): ChatStreamAdapter;
  messagesStream(context: MessagesStreamContext): MessagesStreamAdapter;
  /** The final event of a client stream in this format that failed after its headers. */
  streamError: (error: ApiError) => string;
}
