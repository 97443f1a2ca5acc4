import { StoredMessage } from 'src/modules/conversations/conversation.types';
import {
  countTextTokens,
  estimateTokens,
  MEDIA_TOKENS,
  selectChainWindow,
  selectHistoryWindow,
} from 'src/modules/conversations/history-window';
import { historyMessages, linkChain } from 'src/modules/conversations/history-chain';
import { storedMessage } from 'test/support/stored-message';

let seq = 0;
const msg = (
  role: StoredMessage['role'],
  tokens: number,
  status: StoredMessage['status'] = 'completed',
): StoredMessage =>
  storedMessage({
    id: `m${++seq}`,
    depth: seq,
    role,
    parts: [{ type: 'text', text: `${role}${seq}` }],
    status,
    tokenEstimate: tokens,
  });

const ids = (list: StoredMessage[]) => list.map((m) => m.id);

describe('history window', () => {
  it('counts tokens with a real tokenizer, not characters / 4', () => {
    expect(countTextTokens('Hello world')).toBe(2);
    expect(countTextTokens('')).toBe(0);
    // 1,000 repetitions of one word are far fewer tokens than 5,000 characters / 4.
    expect(countTextTokens('hello '.repeat(1000))).toBeLessThan(1100);
    expect(countTextTokens('<|endoftext|> is plain text here')).toBeGreaterThan(0);
    expect(
      estimateTokens({
        role: 'user',
        parts: [{ type: 'image', mediaType: 'image/png', data: 'AA' }],
      }),
    ).toBe(MEDIA_TOKENS + 4);
  });

  it('counts every forwarded string: name, tool-call ids, reasoning and its signature', () => {
    const words = 'alpha beta gamma delta '.repeat(10);
    const bare = estimateTokens({ role: 'user', parts: [{ type: 'text', text: 'hi' }] });
    expect(
      estimateTokens({ role: 'user', name: words, parts: [{ type: 'text', text: 'hi' }] }),
    ).toBe(bare + countTextTokens(words));
    const call = estimateTokens({
      role: 'assistant',
      parts: [{ type: 'tool_call', id: words, name: 'f', arguments: '{}' }],
    });
    expect(call).toBeGreaterThan(countTextTokens(words));
    const result = estimateTokens({
      role: 'tool',
      parts: [{ type: 'tool_result', toolCallId: words, content: 'ok' }],
    });
    expect(result).toBeGreaterThan(countTextTokens(words));
    const reasoning = estimateTokens({
      role: 'assistant',
      parts: [{ type: 'reasoning', text: 'hm', signature: words }],
    });
    expect(reasoning).toBeGreaterThan(countTextTokens(words));
  });

  it('forwards everything that fits, leaving failed and pending turns out', () => {
    const sys = msg('system', 5);
    const u1 = msg('user', 5);
    const a1 = msg('assistant', 5);
    const u2 = msg('user', 5, 'failed');
    const a2 = msg('assistant', 0, 'failed');
    const u3 = msg('user', 5);
    const a3 = msg('assistant', 5, 'incomplete');
    const turn = [msg('user', 5, 'pending')];
    const window = selectHistoryWindow([sys, u1, a1, u2, a2, u3, a3], turn, 1000);
    expect(ids(window.messages)).toEqual(ids([sys, u1, a1, u3, a3, ...turn]));
    expect(window.omitted).toBe(0);
  });

  it('leaves out the oldest non-system turns first and keeps the system prompt', () => {
    const sys = msg('system', 10);
    const history = [sys];
    for (let i = 0; i < 5; i++) {
      history.push(msg('user', 10), msg('assistant', 10));
    }
    const turn = [msg('user', 10)];
    // 10 (system) + 10 (turn) + room for 4 messages = 60.
    const window = selectHistoryWindow(history, turn, 60);
    expect(ids(window.messages)).toEqual(ids([sys, ...history.slice(7), ...turn]));
    expect(window.omitted).toBe(6);
  });

  it('never starts the kept history with an answer whose question was left out', () => {
    const u1 = msg('user', 10);
    const a1 = msg('assistant', 10);
    const u2 = msg('user', 10);
    const a2 = msg('assistant', 10);
    const turn = [msg('user', 10)];
    // Room for 3 history messages would start at a1: it is dropped too.
    const window = selectHistoryWindow([u1, a1, u2, a2], turn, 40);
    expect(ids(window.messages)).toEqual(ids([u2, a2, ...turn]));
    expect(window.omitted).toBe(2);
  });

  it('forwards only the system prompt and the turn when even they exceed the budget', () => {
    const sys = msg('system', 50);
    const u1 = msg('user', 1);
    const a1 = msg('assistant', 1);
    const turn = [msg('user', 60)];
    const window = selectHistoryWindow([sys, u1, a1], turn, 100);
    expect(ids(window.messages)).toEqual(ids([sys, ...turn]));
    expect(window.omitted).toBe(2);
  });

  it('chooses the same window from a chain as from walking it, and a fitting plain one whole', () => {
    const plain = [msg('system', 10), msg('user', 10), msg('assistant', 10)];
    const withFailed = [msg('user', 10), msg('assistant', 0, 'failed'), msg('user', 10)];
    const lateSystem = [msg('user', 10), msg('system', 10), msg('assistant', 10)];
    for (const chain of [plain, withFailed, lateSystem, []]) {
      for (const budget of [1000, 35, 25]) {
        const turn = [msg('user', 5)];
        const walked = selectHistoryWindow([...chain], turn, budget);
        const linked = linkChain(chain);
        const window = selectChainWindow(linked, turn, budget);
        const messages =
          window.kind === 'whole'
            ? [...historyMessages(window.history), ...window.turn]
            : window.messages;
        expect(ids(messages)).toEqual(ids(walked.messages));
        expect(window.omitted).toBe(walked.omitted);
        // Whole exactly when it is plain and fits: the chain handed on as is, not walked.
        const fits = chain.length === 0 || (chain === plain && budget >= 35);
        expect(window.kind === 'whole' && window.history === linked).toBe(fits);
      }
    }
  });
});
