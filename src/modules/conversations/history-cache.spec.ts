import { StoredMessage } from 'src/modules/conversations/conversation.types';
import { HistoryCache } from 'src/modules/conversations/history-cache';
import { History, historyMessages, linkChain } from 'src/modules/conversations/history-chain';
import { storedMessage } from 'test/support/stored-message';

const message = (id: string, parentId: string | null, text = 'x'): StoredMessage =>
  storedMessage({ id, parentId, parts: [{ type: 'text', text }] });

/** A chain of `ids`, each message the parent of the next. */
const chain = (...ids: string[]) =>
  ids.map((id, i) => ({ ...message(id, i === 0 ? null : ids[i - 1]), depth: i }));
const ids = (head: History | undefined) =>
  head === undefined ? undefined : historyMessages(head).map((m) => m.id);

describe(HistoryCache.name, () => {
  it('returns the chain ending at any message it holds, oldest first', () => {
    const cache = new HistoryCache(1_000_000);
    cache.set(linkChain(chain('a', 'b')));
    expect(ids(cache.get('b'))).toEqual(['a', 'b']);
    cache.set(linkChain(chain('a', 'b', 'c', 'd')));
    expect(ids(cache.get('d'))).toEqual(['a', 'b', 'c', 'd']);
    // A fork at `b`, and a fork of it: both find their history without a database read.
    expect(ids(cache.get('b'))).toEqual(['a', 'b']);
    cache.set(linkChain([...chain('a', 'b'), message('e', 'b'), message('f', 'e')]));
    expect(ids(cache.get('f'))).toEqual(['a', 'b', 'e', 'f']);
    expect(ids(cache.get('d'))).toEqual(['a', 'b', 'c', 'd']);
    expect(cache.size).toBe(6);
    expect(cache.get(null)).toBeUndefined();
    expect(cache.get('unknown')).toBeUndefined();
  });

  it('answers a miss when any message up to the root is missing', () => {
    const cache = new HistoryCache(1_000_000);
    cache.set(linkChain([message('c', 'b'), message('d', 'c')]));
    expect(cache.get('d')).toBeUndefined();
  });

  it('evicts the least recently used messages beyond its byte budget, leaves first', () => {
    const weight = 256 + 200; // per message with 100 characters
    const cache = new HistoryCache(4 * weight);
    const text = 'x'.repeat(100);
    cache.set(linkChain([message('root', null, text), message('old', 'root', text)]));
    cache.set(linkChain([message('root', null, text), message('new', 'root', text)]));
    cache.get('old');
    cache.set(linkChain([message('root', null, text), message('newer', 'root', text)]));
    cache.set(linkChain([message('root', null, text), message('newest', 'root', text)]));
    // Over budget: `new` (least recently used) went first; the shared root stayed.
    expect(cache.get('new')).toBeUndefined();
    expect(ids(cache.get('newest'))).toEqual(['root', 'newest']);
    expect(cache.size).toBeLessThanOrEqual(4);
  });

  it('evicts the deepest messages of a chain first, and fills the hole when it is stored again', () => {
    const cache = new HistoryCache(3.5 * (256 + 2));
    cache.set(linkChain(chain('a', 'b', 'c')));
    cache.set(linkChain(chain('x')));
    expect(cache.get('c')).toBeUndefined();
    expect(cache.get('b')).toBeUndefined();
    expect(ids(cache.get('a'))).toEqual(['a']);
    cache.set(linkChain(chain('a', 'b')));
    expect(ids(cache.get('b'))).toEqual(['a', 'b']);
  });

  it('does not keep messages holding media, so chains through them are read again', () => {
    const cache = new HistoryCache(1_000_000);
    const withImage: StoredMessage = {
      ...message('i', null),
      parts: [{ type: 'image', mediaType: 'image/png', data: 'AAAA' }],
    };
    cache.set(linkChain([withImage, message('j', 'i')]));
    expect(cache.get('j')).toBeUndefined();
  });

  it('holds nothing with a budget of 0', () => {
    const cache = new HistoryCache(0);
    cache.set(linkChain(chain('a', 'b')));
    expect(cache.get('b')).toBeUndefined();
    expect(cache.size).toBe(0);
  });

  it('weighs signatures, names and tool-call ids: 20 MB of them stay within a 1 MB budget', () => {
    const budget = 1024 * 1024;
    const cache = new HistoryCache(budget);
    const big = 'S'.repeat(64 * 1024);
    for (let i = 0; i < 160; i++) {
      const m = message(`m${i}`, null);
      m.name = 'n'.repeat(256);
      m.parts = [
        { type: 'reasoning', text: 'r', signature: big },
        { type: 'tool_call', id: big, name: 'f', arguments: '{}' },
        { type: 'tool_result', toolCallId: big, content: 'x' },
      ];
      cache.set(linkChain([m]));
    }
    // Each message holds ~192 K characters (384 KiB): at most two fit in the budget.
    expect(cache.size).toBeLessThanOrEqual(Math.floor(budget / (3 * big.length * 2)));
    expect(cache.size).toBeGreaterThan(0);
  });

  it("hands out the head's link as the chain, and links a turn's chain to the held history", () => {
    const cache = new HistoryCache(1_000_000);
    const stored = linkChain(chain('a', 'b', 'c'))!;
    cache.set(stored);
    expect(cache.get('c')).toBe(stored);
    expect(cache.get('b')).toBe(stored.parent);
    // The next turn's chain: the held history plus its own links, nothing copied.
    const next = linkChain([message('d', 'c'), message('e', 'd')], cache.get('c'))!;
    cache.set(next);
    expect(cache.get('e')).toBe(next);
    expect(cache.get('e')!.parent!.parent).toBe(stored);
    // The same history read again (new objects): its new links are joined to the held ones.
    const reread = linkChain([...chain('a', 'b', 'c'), message('f', 'c')])!;
    cache.set(reread);
    expect(cache.get('f')!.parent).toBe(stored);
    expect(ids(cache.get('f'))).toEqual(['a', 'b', 'c', 'f']);
  });

  it('keeps history shared by a fork longer than what was used before the fork', () => {
    const text = 'x'.repeat(100);
    const cache = new HistoryCache(2200);
    const root = message('root', null, text);
    const shared = { ...message('shared', 'root', text), depth: 1 };
    cache.set(linkChain([root, shared]));
    cache.set(linkChain([message('other', null, text)]));
    cache.set(linkChain([root, shared, { ...message('fork', 'shared', text), depth: 2 }]));
    // Over budget: `other` goes, then the fork's own message; the history it stands on stays,
    // though it was stored before `other` and never read since.
    cache.set(linkChain([message('new', null, text)]));
    expect(cache.get('other')).toBeUndefined();
    expect(cache.get('fork')).toBeUndefined();
    expect(ids(cache.get('shared'))).toEqual(['root', 'shared']);
  });
});
