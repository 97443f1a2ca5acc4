import { AuthContext } from 'src/common/types/auth-context';
import { CatalogModel } from 'src/kernel/catalog-model';
import { JsonObject } from 'src/kernel/json';

/** A chat request checked against the catalog and the caller's key, ready to forward. */
export interface PreparedChat {
  auth: AuthContext;
  model: CatalogModel;
  /**
   * The client's body as received, with unknown fields intact, `max_tokens` bounds applied
   * and, for streams, `stream_options.include_usage: true`. Forwarded as is except `model`,
   * which becomes the upstream's own name. /c1 replaces `messages` (history + new turn) and
   * removes its own fields before calling `complete`/`stream`; with `messagesBytes` set, its
   * `messages` may be a property built when first read (copy the body key by key to leave
   * them out).
   */
  body: JsonObject;
  isStream: boolean;
  /** The client asked for the usage chunk itself (otherwise it is removed from its stream). */
  clientWantsUsage: boolean;
  /** Notes for `x-parley-applied` (`max_tokens_floored=16`); see `appliedHeader`. */
  applied: string[];
  /**
   * The request already in Anthropic form (/v1/messages, /c1 history rendered from the neutral
   * form), sent as is (with the upstream's model name) to `anthropic` upstreams instead of
   * translating `body`. Without it, `body` is translated (wire/anthropic, issue #8).
   */
  anthropicBody?: JsonObject;
  /**
   * Renders the Anthropic request on demand (/c1/chat/completions: from the neutral history),
   * called only when an `anthropic` upstream is chosen, so that a request the Anthropic
   * rendering refuses (JSON `response_format`) still reaches an `openai` upstream of a mixed
   * alias. Used when `anthropicBody` is not set; may throw `ApiError`.
   */
  renderAnthropic?: () => JsonObject;
  /**
   * `body.messages` already serialised, as UTF-8 bytes in pieces (/c1: each stored message is
   * rendered once and kept with it, and the history's bytes are shared by the turns that
   * forward it): spliced into the body for `openai` upstreams instead of serialising and
   * encoding thousands of history messages again on every turn. Must encode `body.messages`
   * exactly.
   */
  messagesBytes?: Buffer[];
}

/** An Anthropic Messages request checked like a chat completion, ready for either upstream. */
export interface PreparedMessages {
  /**
   * The request translated to Chat Completions and checked by `ChatCompletionsService.prepare`
   * (model, key, media, max_tokens bounds); `chat.anthropicBody` is the client's own body
   * (unknown fields intact, bounded `max_tokens`), sent as is to `anthropic` upstreams.
   */
  chat: PreparedChat;
  isStream: boolean;
  /** The request's `stop_sequences`, to report which one ended an answer. */
  stopSequences: string[];
}
