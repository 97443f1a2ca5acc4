import { PreparedChat } from 'src/kernel/prepared-request';
import { LRUCache } from 'lru-cache';
import { NeutralMessage } from 'src/kernel/neutral-history';
import { neutralToOpenAI, OpenAIMessage } from 'src/modules/proxy/wire/openai/openai-neutral';
import { JsonObject } from 'src/kernel/json';
import {
  ChainLink,
  History,
  historyMessages,
  OpenAIRope,
} from 'src/modules/conversations/history-chain';
import { toNeutral } from 'src/modules/conversations/turn-messages';

/**
 * What a prompt forwards, in order: a stored history forwarded whole (its chain, rendered from
 * the rope kept on its last link), then `after` (the new turn; or the whole window when only
 * part of the history goes, `history` then null).
 */
export interface PromptWindow {
  history: History;
  after: NeutralMessage[];
}

/** The window's messages in neutral form, in order: a walk over the history. */
export function promptMessages(window: PromptWindow): NeutralMessage[] {
  return [...historyMessages(window.history).map(toNeutral), ...window.after];
}

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
  /**
   * The JSON of `messages` without brackets, in UTF-8, in pieces shared with the windows it
   * was extended from (see `appendPiece`); a whole window is the pieces of the window without
   * its last message, then that message's.
   */
  bytes: Buffer[];
  /** What keeping it adds (see `RenderedWindows`). */
  cost: number;
}

/**
 * The most recently rendered windows, by their last message, least recently used first. A turn
 * forwards the history of the turn before plus a few new messages (and forks of one
 * conversation share their history), so the bytes of all but the last few messages are
 * usually here: extending them renders only the new messages, and shares the rest.
 * Bounded by entries and bytes: its budget is a share of HISTORY_CACHE_BYTES (see
 * `renderedWindowBytes`). A window costs its arrays (a pointer per message) and the byte
 * pieces it added to the window it was extended from, when that one was kept: windows share
 * pieces, and a window's own cost is what its forks do not already hold. A piece can outlive
 * the window that added it, kept by one extended from it: at most MAX_WINDOWS windows' worth.
 */
export class RenderedWindows {
  private readonly entries: LRUCache<NeutralMessage, RenderedWindow> | null;
  /** Keyed by the rope, not its link: keeping a rope must not keep its chain's messages. */
  private readonly ropes: LRUCache<OpenAIRope, KeptRope> | null;

  constructor(maxBytes: number) {
    // Half for windows (histories forwarded in part, Responses instructions), half for the
    // ropes of whole histories (the usual turn).
    this.entries =
      maxBytes > 1
        ? new LRUCache<NeutralMessage, RenderedWindow>({
            max: MAX_WINDOWS,
            maxSize: Math.floor(maxBytes / 2),
            sizeCalculation: costOf,
          })
        : null;
    this.ropes =
      maxBytes > 1
        ? new LRUCache<OpenAIRope, KeptRope>({
            max: MAX_ROPES,
            maxSize: Math.floor(maxBytes / 2),
            sizeCalculation: (kept) => kept.cost,
            // The link forgets it with the entry, so that the bytes it holds are those counted.
            dispose: (kept, rope) => {
              const link = kept.link.deref();
              if (link?.rope === rope) {
                link.rope = null;
              }
            },
          })
        : null;
  }

  /**
   * The OpenAI rendering of the chain ending at `head`: the rope kept on it, or the rope of the
   * nearest link above it extended by the messages below (usually the last turn's two), kept
   * on `head` for the turns that extend it. Forks share the ropes of their common history.
   * Without a kept rope above (a history read from the database, cache off) the whole chain is
   * rendered, each message once per message object.
   */
  ropeOf(head: ChainLink): OpenAIRope {
    const below: ChainLink[] = [];
    let link: History = head;
    while (link !== null && link.rope === null) {
      below.push(link);
      link = link.parent;
    }
    const above = link?.rope ?? EMPTY_ROPE;
    if (link?.rope) {
      this.ropes?.get(link.rope); // marks it used
    }
    if (below.length === 0) {
      return above;
    }
    const json: string[] = [];
    for (let i = below.length - 1; i >= 0; i--) {
      const rendered = render(toNeutral(below[i].message));
      if (rendered.json !== '') {
        json.push(rendered.json);
      }
    }
    const piece = Buffer.from(separated(above.bytes, json.join(',')));
    const rope: OpenAIRope = {
      pieces: appendPiece(above.pieces, piece),
      bytes: above.bytes + piece.length,
    };
    if (this.ropes) {
      let cost = POINTER_BYTES * rope.pieces.length;
      for (const added of rope.pieces) {
        if (!above.pieces.includes(added)) {
          cost += added.length;
        }
      }
      this.ropes.set(rope, { link: new WeakRef(head), cost: Math.max(1, cost) });
      if (this.ropes.has(rope)) {
        head.rope = rope;
      }
    }
    return rope;
  }

  /**
   * The longest cached window that `window` starts with. Usually a few messages short of it;
   * a fork's later turns may find only the window of the history it was forked from (its own
   * windows evicted by other conversations' meanwhile): a key lookup per message is still far
   * cheaper than rendering the history again.
   */
  longestPrefix(window: NeutralMessage[]): RenderedWindow | null {
    if (!this.entries) {
      return null;
    }
    for (let length = window.length; length >= 1; length--) {
      const entry = this.entries.get(window[length - 1]);
      if (entry && entry.sources.length === length && startsWith(window, entry.sources)) {
        return entry;
      }
    }
    return null;
  }

  /**
   * Keeps `window` unless it alone exceeds the budget (lru-cache then stores nothing); tells
   * whether it was kept.
   */
  set(window: RenderedWindow): boolean {
    if (!this.entries || window.sources.length === 0) {
      return false;
    }
    const key = window.sources[window.sources.length - 1];
    this.entries.set(key, window);
    return this.entries.peek(key) === window;
  }
}

/** The conversations in flight at once on a busy gateway. */
const MAX_WINDOWS = 32;
/**
 * Histories whose rope is kept: a rope is the few pieces its history adds to the rope above
 * it, so many fit, and a fork whose own rope went extends the one of its base.
 */
const MAX_ROPES = 4096;

/** The link a kept rope is on, and what keeping it adds: the pieces its parent rope lacks. */
interface KeptRope {
  link: WeakRef<ChainLink>;
  cost: number;
}

const EMPTY_ROPE: OpenAIRope = { pieces: [], bytes: 0 };

/** The share of HISTORY_CACHE_BYTES kept for rendered windows: a quarter, at most 16 MiB. */
export function renderedWindowBytes(historyCacheBytes: number): number {
  return Math.min(Math.floor(historyCacheBytes / 4), 16 * 1024 * 1024);
}

const POINTER_BYTES = 8;

function costOf(window: RenderedWindow): number {
  return window.cost;
}

/** A window of `bytes`, costing the pieces that `base` (kept, or null) does not hold. */
function windowOf(
  sources: NeutralMessage[],
  messages: OpenAIMessage[],
  bytes: Buffer[],
  base: RenderedWindow | null,
): RenderedWindow {
  let cost = POINTER_BYTES * (sources.length + messages.length);
  for (const piece of bytes) {
    if (!base?.bytes.includes(piece)) {
      cost += piece.length;
    }
  }
  return { sources, messages, bytes, cost: Math.max(1, cost) };
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

function render(message: NeutralMessage): RenderedMessage {
  let rendered = renderings.get(message);
  if (!rendered) {
    const openai = neutralToOpenAI(message, { markToolErrors: true });
    rendered = { messages: openai, json: JSON.stringify(openai).slice(1, -1) };
    renderings.set(message, rendered);
  }
  return rendered;
}

/** `more` to append to JSON of `length` bytes (both without brackets): with a comma when both hold some. */
function separated(length: number, more: string): string {
  return length > 0 && more !== '' ? `,${more}` : more;
}

function byteLength(pieces: readonly Buffer[]): number {
  let length = 0;
  for (const piece of pieces) {
    length += piece.length;
  }
  return length;
}

/**
 * `pieces` then `piece`, as a new array (windows share pieces). Like a binary counter, the last
 * two are joined while the last is at least as long as the one before: piece sizes then fall
 * geometrically along the list, so a window built over a thousand turns is a dozen pieces,
 * each byte copied a few times in all instead of the whole history once per turn.
 */
function appendPiece(pieces: readonly Buffer[], piece: Buffer): Buffer[] {
  const appended = [...pieces, piece];
  while (
    appended.length >= 2 &&
    appended[appended.length - 1].length >= appended[appended.length - 2].length
  ) {
    const last = appended.pop()!;
    const before = appended.pop()!;
    appended.push(Buffer.concat([before, last]));
  }
  return appended;
}

const OPEN = Buffer.from('[');
const CLOSE = Buffer.from(']');

/**
 * Sets `chat.messagesBytes` to the JSON of the OpenAI rendering of `prompt` (failed tool
 * results marked) in UTF-8, which `bodyFor` splices into the upstream body, and
 * `chat.body.messages` to that rendering, built only when read (a stream cut before its usage
 * arrived estimates it from them; a JSON turn never reads them). Each message is rendered
 * and serialised once per message object and kept as long as it lives (a stored message never
 * changes). A history forwarded whole goes as its rope (`RenderedWindows.ropeOf`) plus the new
 * turn: a turn on a 1,000-turn conversation neither walks, serialises nor joins its 2,000
 * messages.
 */
export function renderOpenAIPrompt(
  chat: PreparedChat,
  prompt: PromptWindow,
  windows: RenderedWindows,
): void {
  if (prompt.history === null) {
    renderWindow(chat, prompt.after, windows);
    return;
  }
  const history = prompt.history;
  const rope = windows.ropeOf(history);
  const after = prompt.after.map(render);
  const json = after.flatMap((rendered) => (rendered.json === '' ? [] : [rendered.json]));
  chat.messagesBytes = [
    OPEN,
    ...rope.pieces,
    Buffer.from(separated(rope.bytes, json.join(','))),
    CLOSE,
  ];
  setMessagesOnRead(chat.body, () => [
    ...historyMessages(history).flatMap((m) => render(toNeutral(m)).messages),
    ...after.flatMap((rendered) => rendered.messages),
  ]);
}

/**
 * `body.messages` as a property that builds its value when first read (and takes what is
 * assigned), enumerable like the plain one.
 */
function setMessagesOnRead(body: JsonObject, build: () => OpenAIMessage[]): void {
  let messages: unknown;
  let isBuilt = false;
  Object.defineProperty(body, 'messages', {
    configurable: true,
    enumerable: true,
    get: () => {
      if (!isBuilt) {
        messages = build();
        isBuilt = true;
      }
      return messages;
    },
    set: (value: unknown) => {
      messages = value;
      isBuilt = true;
    },
  });
}

/**
 * A window that is not a whole history (part of it left out, or Responses instructions put
 * first): the JSON of the window without its last message is kept (`RenderedWindows`), so the
 * next turn of the conversation, or of a fork, starts from it and renders only its new
 * messages.
 */
function renderWindow(
  chat: PreparedChat,
  window: NeutralMessage[],
  windows: RenderedWindows,
): void {
  let base = windows.longestPrefix(window);
  const messages: OpenAIMessage[] = base ? base.messages.slice() : [];
  let bytes = base ? base.bytes : [];
  let length = byteLength(bytes);
  let from = base ? base.sources.length : 0;
  const renderRange = (to: number): string => {
    const parts: string[] = [];
    for (let i = from; i < to; i++) {
      const rendered = render(window[i]);
      for (const m of rendered.messages) {
        messages.push(m);
      }
      if (rendered.json !== '') {
        parts.push(rendered.json);
      }
    }
    from = to;
    return parts.join(',');
  };
  // The window without its last message: the next turn (of this conversation or of a fork
  // made at that message) starts from it, and shares its bytes.
  const stem = window.length - 1;
  if (from < stem) {
    const added = Buffer.from(separated(length, renderRange(stem)));
    length += added.length;
    bytes = appendPiece(bytes, added);
    const stemWindow = windowOf(window.slice(0, stem), messages.slice(), bytes, base);
    if (windows.set(stemWindow)) {
      base = stemWindow;
    }
  }
  if (from < window.length) {
    const added = Buffer.from(separated(length, renderRange(window.length)));
    bytes = [...bytes, added];
    windows.set(windowOf(window.slice(), messages.slice(), bytes, base));
  }
  chat.body.messages = messages;
  chat.messagesBytes = [OPEN, ...bytes, CLOSE];
}
