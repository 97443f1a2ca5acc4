import { StoredMessage } from 'src/modules/conversations/conversation.types';
import { HistoryCache } from 'src/modules/conversations/history-cache';

const message = (id: string, text = 'x'): StoredMessage => ({
  id,
  treeId: 't',
  parentId: null,
  depth: 0,
  turnId: 'turn',
  role: 'user',
  parts: [{ type: 'text', text }],
  name: null,
  status: 'completed',
  finishReason: null,
  promptTokens: null,
  completionTokens: null,
  tokenEstimate: 1,
  model: null,
  errorCode: null,
  createdAt: 0,
  updatedAt: 0,
});

describe(HistoryCache.name, () => {
  it('returns the chain stored under its head and forgets the chain it extends', () => {
    const cache = new HistoryCache(1_000_000);
    const first = [message('a'), message('b')];
    cache.set('b', first);
    expect(cache.get('b')).toBe(first);
    const second = [...first, message('c'), message('d')];
    cache.set('d', second, 'b');
    expect(cache.get('b')).toBeUndefined();
    expect(cache.get('d')).toBe(second);
    expect(cache.get(null)).toBeUndefined();
  });

  it('evicts the least recently used chains beyond its byte budget', () => {
    const cache = new HistoryCache(4 * (256 + 200));
    cache.set('h1', [message('1', 'x'.repeat(100))]);
    cache.set('h2', [message('2', 'x'.repeat(100))]);
    cache.get('h1');
    cache.set('h3', [message('3', 'x'.repeat(100))]);
    cache.set('h4', [message('4', 'x'.repeat(100))]);
    cache.set('h5', [message('5', 'x'.repeat(100))]);
    expect(cache.get('h2')).toBeUndefined();
    expect(cache.get('h1')).toBeDefined();
    expect(cache.size).toBeLessThanOrEqual(4);
  });

  it('does not cache chains holding media', () => {
    const cache = new HistoryCache(1_000_000);
    const withImage: StoredMessage = {
      ...message('i'),
      parts: [{ type: 'image', mediaType: 'image/png', data: 'AAAA' }],
    };
    cache.set('i', [withImage]);
    expect(cache.get('i')).toBeUndefined();
  });
});
