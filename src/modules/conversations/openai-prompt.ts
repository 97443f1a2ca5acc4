import { PreparedChat } from 'src/modules/proxy/chat-completions.service';
import { NeutralMessage } from 'src/modules/proxy/wire/neutral';
import { neutralToOpenAI, OpenAIMessage } from 'src/modules/proxy/wire/openai/openai-neutral';

/** A neutral message in OpenAI form: the messages it becomes, and their JSON without brackets. */
interface RenderedMessage {
  messages: OpenAIMessage[];
  json: string;
}

const renderings = new WeakMap<NeutralMessage, RenderedMessage>();

/** A rendered window: the neutral messages it was made of, in order, and their rendering. */
interface RenderedWindow {
  sources: NeutralMessage[];
  messages: OpenAIMessage[];
  /** The JSON of `messages` without brackets (`''` for none). */
  json: string;
}

/** How many new messages a turn may add after a window rendered before (user, tool results…). */
const MAX_NEW_MESSAGES = 4;

/**
 * The most recently rendered windows, by their last message, least recently used first. A turn
 * forwards the history of the turn before plus a few new messages (and forks of one
 * conversation share their history), so the JSON of all but the last few messages is usually
 * here: extending it is a string concatenation instead of joining thousands of renderings.
 * Bounded by entries and characters (the strings share their common prefix while unflattened,
 * so the character count is an upper bound).
 */
class RenderedWindows {
  private readonly entries = new Map<NeutralMessage, RenderedWindow>();
  private chars = 0;

  constructor(
    private readonly maxEntries: number,
    private readonly maxChars: number,
  ) {}

  /** The longest cached window that `window` starts with (missing at most a few messages). */
  longestPrefix(window: NeutralMessage[]): RenderedWindow | null {
    const shortest = Math.max(1, window.length - MAX_NEW_MESSAGES);
    for (let length = window.length; length >= shortest; length--) {
      const entry = this.entries.get(window[length - 1]);
      if (entry && entry.sources.length === length && startsWith(window, entry.sources)) {
        this.entries.delete(window[length - 1]);
        this.entries.set(window[length - 1], entry);
        return entry;
      }
    }
    return null;
  }

  set(window: RenderedWindow): void {
    if (window.sources.length === 0 || window.json.length > this.maxChars) {
      return;
    }
    const key = window.sources[window.sources.length - 1];
    const previous = this.entries.get(key);
    if (previous) {
      this.entries.delete(key);
      this.chars -= previous.json.length;
    }
    this.entries.set(key, window);
    this.chars += window.json.length;
    for (const [oldest, entry] of this.entries) {
      if (this.entries.size <= this.maxEntries && this.chars <= this.maxChars) {
        break;
      }
      this.entries.delete(oldest);
      this.chars -= entry.json.length;
    }
  }
}

/** Identity, not equality: a stored message object is never changed, so same object, same JSON. */
function startsWith(window: NeutralMessage[], prefix: NeutralMessage[]): boolean {
  for (let i = 0; i < prefix.length; i++) {
    if (window[i] !== prefix[i]) {
      return false;
    }
  }
  return true;
}

/** 32 windows, 16 Mi characters: the conversations in flight at once on a busy gateway. */
const windows = new RenderedWindows(32, 16 * 1024 * 1024);

function render(message: NeutralMessage): RenderedMessage {
  let rendered = renderings.get(message);
  if (!rendered) {
    const openai = neutralToOpenAI(message, { markToolErrors: true });
    rendered = { messages: openai, json: JSON.stringify(openai).slice(1, -1) };
    renderings.set(message, rendered);
  }
  return rendered;
}

function appendJson(json: string, more: string): string {
  return json === '' ? more : more === '' ? json : `${json},${more}`;
}

/**
 * Sets `chat.body.messages` to the OpenAI rendering of `window` (failed tool results marked)
 * and `chat.messagesJson` to its JSON, which `bodyFor` splices into the upstream body. Each
 * message is rendered and serialised once per message object and kept as long as it lives:
 * `C1TurnService` hands over the same objects for the messages the history cache holds (a
 * stored message never changes). The JSON of the window without its last message is kept as
 * well (`RenderedWindows`), so the next turn of the conversation, or of a fork, starts from it
 * and renders only its new messages: a turn on a 1,000-turn conversation neither serialises
 * nor joins 2,000 messages again.
 */
export function renderOpenAIPrompt(chat: PreparedChat, window: NeutralMessage[]): void {
  const cached = windows.longestPrefix(window);
  let messages: OpenAIMessage[];
  let json: string;
  let from: number;
  if (cached) {
    messages = cached.messages.slice();
    json = cached.json;
    from = cached.sources.length;
  } else {
    messages = [];
    json = '';
    from = 0;
  }
  // The window without its last message: the next turn (of this conversation or of a fork
  // made at that message) starts from it. Joined when nothing was cached; otherwise the few
  // new messages are appended to the cached JSON (a concatenation, not a copy).
  const stem = window.length - 1;
  if (from < stem) {
    const parts: string[] = [];
    for (let i = from; i < stem; i++) {
      const rendered = render(window[i]);
      for (const m of rendered.messages) {
        messages.push(m);
      }
      if (rendered.json !== '') {
        parts.push(rendered.json);
      }
    }
    json = appendJson(json, parts.join(','));
    from = stem;
    windows.set({ sources: window.slice(0, stem), messages: messages.slice(), json });
  }
  for (let i = from; i < window.length; i++) {
    const rendered = render(window[i]);
    for (const m of rendered.messages) {
      messages.push(m);
    }
    json = appendJson(json, rendered.json);
  }
  if (from < window.length) {
    windows.set({ sources: window.slice(), messages: messages.slice(), json });
  }
  chat.body.messages = messages;
  chat.messagesJson = `[${json}]`;
}
