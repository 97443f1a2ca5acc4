import { PreparedChat } from 'src/kernel/prepared-request';
import {
  renderedWindowBytes,
  RenderedWindows,
  renderOpenAIPrompt,
} from 'src/modules/conversations/openai-prompt';
import { NeutralMessage } from 'src/kernel/neutral-history';
import { StoredMessage } from 'src/modules/conversations/conversation.types';
import { ChainLink, History, linkChain } from 'src/modules/conversations/history-chain';
import { toNeutral } from 'src/modules/conversations/turn-messages';
import { storedMessage } from 'test/support/stored-message';

const text = (role: NeutralMessage['role'], t: string): NeutralMessage => ({
  role,
  parts: [{ type: 'text', text: t }],
});

/** Renders `window` as a turn would, and returns what the upstream receives as `messages`. */
function forwarded(
  window: NeutralMessage[],
  cache: RenderedWindows = windows,
): { json: unknown; messages: unknown } {
  const chat = { body: {} } as unknown as PreparedChat;
  renderOpenAIPrompt(chat, { history: null, after: window }, cache);
  // The body is sent from the bytes: what they decode to is what the upstream gets.
  const json: unknown = JSON.parse(Buffer.concat(chat.messagesBytes!).toString('utf8'));
  return { json, messages: chat.body.messages };
}

/** What a fresh rendering of the same content gives (new objects: nothing cached). */
function expected(window: NeutralMessage[]): unknown {
  return window.map((m) => ({
    role: m.role,
    content: (m.parts[0] as { text: string }).text,
  }));
}

const windows = new RenderedWindows(renderedWindowBytes(32 * 1024 * 1024));

describe('renderOpenAIPrompt', () => {
  it('forwards the same messages, in order, when each turn extends the one before', () => {
    const history: NeutralMessage[] = [text('system', 'be brief')];
    for (let turn = 0; turn < 6; turn++) {
      const window = [...history, text('user', `question ${turn} é 😀 ü`)];
      const { json, messages } = forwarded(window);
      expect(json).toEqual(expected(window));
      expect(messages).toEqual(json);
      history.push(window[window.length - 1], text('assistant', `answer ${turn}`));
    }
  });

  it('gives each fork of a shared history its own new message, and the history unchanged', () => {
    const shared = [text('user', 'a'), text('assistant', 'b ✓'), text('user', 'c')];
    shared.push(text('assistant', 'd'));
    for (const question of ['fork 1', 'fork 2', 'fork 3']) {
      const window = [...shared, text('user', question)];
      expect(forwarded(window).json).toEqual(expected(window));
    }
  });

  it('renders a window whose oldest messages were left out (history window moved)', () => {
    const all = Array.from({ length: 12 }, (_, i) =>
      text(i % 2 === 0 ? 'user' : 'assistant', `m${i}`),
    );
    expect(forwarded(all.slice(0, 11)).json).toEqual(expected(all.slice(0, 11)));
    const moved = [...all.slice(4, 11), text('user', 'next')];
    expect(forwarded(moved).json).toEqual(expected(moved));
    const shorter = all.slice(0, 5);
    expect(forwarded(shorter).json).toEqual(expected(shorter));
  });

  it('renders the same window twice, and an empty one', () => {
    const window = [text('user', 'x'), text('assistant', 'y'), text('user', 'z')];
    expect(forwarded(window).json).toEqual(expected(window));
    expect(forwarded(window).json).toEqual(expected(window));
    expect(forwarded([]).json).toEqual([]);
  });

  it('keeps windows within their share of HISTORY_CACHE_BYTES, and renders the same without it', () => {
    expect(renderedWindowBytes(32 * 1024 * 1024)).toBe(8 * 1024 * 1024);
    expect(renderedWindowBytes(1024 * 1024 * 1024)).toBe(16 * 1024 * 1024);
    const window = [text('user', 'x'.repeat(400)), text('assistant', 'y'), text('user', 'z')];
    const none = new RenderedWindows(renderedWindowBytes(0));
    expect(forwarded(window, none).json).toEqual(expected(window));
    expect(none.longestPrefix(window)).toBeNull();
    // 300 bytes hold neither rendering of a window whose JSON alone is over 400 characters.
    const tiny = new RenderedWindows(300);
    expect(forwarded(window, tiny).json).toEqual(expected(window));
    expect(tiny.longestPrefix(window)).toBeNull();
    const roomy = new RenderedWindows(64 * 1024);
    forwarded(window, roomy);
    expect(roomy.longestPrefix(window)?.sources).toEqual(window);
  });

  it('starts a later turn of a fork from the history it was forked from, however far back', () => {
    const cache = new RenderedWindows(64 * 1024);
    const shared = [text('user', 'a'), text('assistant', 'b'), text('user', 'c')];
    forwarded(shared, cache);
    const later = [...shared, ...['d', 'e', 'f', 'g', 'h', 'i'].map((t) => text('user', t))];
    expect(cache.longestPrefix(later)?.sources).toEqual(shared);
    expect(forwarded(later, cache).json).toEqual(expected(later));
  });
});

describe('renderOpenAIPrompt of a whole history (its chain)', () => {
  let seq = 0;
  const stored = (role: StoredMessage['role'], t: string): StoredMessage =>
    storedMessage({ id: `s${++seq}`, role, parts: [{ type: 'text', text: t }] });
  /** What the upstream receives for `history` then `turn`, and the body's `messages`. */
  const sent = (history: History, turn: NeutralMessage[], cache: RenderedWindows) => {
    const chat = { body: { model: 'm' } } as unknown as PreparedChat;
    renderOpenAIPrompt(chat, { history, after: turn }, cache);
    const json: unknown = JSON.parse(Buffer.concat(chat.messagesBytes!).toString('utf8'));
    return { json, chat };
  };
  const neutralOf = (head: History): NeutralMessage[] => {
    const all: NeutralMessage[] = [];
    for (let link = head; link; link = link.parent) {
      all.unshift(toNeutral(link.message));
    }
    return all;
  };

  it('sends the history then the turn, as a fresh rendering of the same messages would', () => {
    const cache = new RenderedWindows(64 * 1024);
    let head = linkChain([stored('system', 'be brief')]);
    for (let turn = 0; turn < 8; turn++) {
      const question = text('user', `question ${turn} é 😀 ü`);
      const { json, chat } = sent(head, [question], cache);
      const window = [...neutralOf(head), question];
      expect(json).toEqual(expected(window));
      // Built when read (a stream cut before its usage), equal to what was sent.
      expect(chat.body.messages).toEqual(json);
      expect(Object.keys(chat.body)).toEqual(['model', 'messages']);
      head = linkChain(
        [stored('user', `question ${turn} é 😀 ü`), stored('assistant', `answer ${turn}`)],
        head,
      );
    }
    // Each history's rendering is kept on its last link, extended from the one before.
    expect(head!.parent!.parent!.rope).not.toBeNull();
  });

  it('gives forks of one history the same history bytes, and a fork of a fork too', () => {
    const cache = new RenderedWindows(64 * 1024);
    const shared = linkChain([stored('user', 'a'), stored('assistant', 'b ✓')]);
    const first = sent(shared, [text('user', 'fork 1')], cache).json;
    expect(first).toEqual(expected([...neutralOf(shared), text('user', 'fork 1')]));
    const fork = linkChain([stored('user', 'c'), stored('assistant', 'd')], shared);
    const forkOfFork = linkChain([stored('user', 'e')], fork!.parent);
    for (const head of [fork, forkOfFork, shared]) {
      const turn = [text('user', 'next')];
      expect(sent(head, turn, cache).json).toEqual(expected([...neutralOf(head), ...turn]));
    }
  });

  it('renders the same without a cache (HISTORY_CACHE_BYTES=0), keeping nothing', () => {
    const none = new RenderedWindows(renderedWindowBytes(0));
    const head = linkChain([stored('user', 'x'), stored('assistant', 'y')]) as ChainLink;
    const turn = [text('user', 'z')];
    expect(sent(head, turn, none).json).toEqual(expected([...neutralOf(head), ...turn]));
    expect(head.rope).toBeNull();
    expect(sent(null, turn, none).json).toEqual(expected(turn));
  });

  it('forgets a rope that its share of the budget cannot hold, and renders the same', () => {
    const tiny = new RenderedWindows(300);
    const head = linkChain([stored('user', 'x'.repeat(400))]) as ChainLink;
    const turn = [text('user', 'z')];
    expect(sent(head, turn, tiny).json).toEqual(expected([...neutralOf(head), ...turn]));
    expect(head.rope).toBeNull();
  });
});
