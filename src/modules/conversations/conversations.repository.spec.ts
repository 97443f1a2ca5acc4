import { ApiError } from 'src/common/errors/api-error';
import { systemClock } from 'src/common/time/clock';
import { ConversationsRepository } from 'src/modules/conversations/conversations.repository';
import { IDEMPOTENCY_TTL_MS, TurnsRepository } from 'src/modules/conversations/turns.repository';
import {
  NewMessage,
  StartedTurn,
  StartTurnInput,
} from 'src/modules/conversations/conversation.types';
import { TurnClaim } from 'src/modules/conversations/turn-store';
import { historyLength, historyMessages } from 'src/modules/conversations/history-chain';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { conversationStoresOn } from 'test/support/conversations-repository';
import { describeIfEnv } from 'test/support/describe-if-env';
import { openTestDatabase, OpenDatabase, testDatabaseUrl } from 'test/support/open-database';

const user = (text: string): NewMessage => ({
  role: 'user',
  parts: [{ type: 'text', text }],
  tokenEstimate: 3,
});

const answer = (text: string) => ({
  parts: [{ type: 'text' as const, text }],
  status: 'completed' as const,
  finishReason: 'stop',
  promptTokens: 10,
  completionTokens: 2,
  tokenEstimate: 2,
  model: 'm',
});

async function expectApiErrorCode(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  );
  expect(error).toBeInstanceOf(ApiError);
  expect((error as ApiError).code).toBe(code);
}

function repositorySuite(url: () => string) {
  let db: OpenDatabase;
  let repo: ConversationsRepository;
  let turns: TurnsRepository;
  let metrics: MetricsService;
  const base = (over: Partial<StartTurnInput> = {}): StartTurnInput => ({
    userId: 'alice',
    conversationId: null,
    model: 'm',
    messages: [user('hello')],
    claimTtlMs: 60_000,
    ...over,
  });

  beforeAll(async () => {
    db = await openTestDatabase(url());
  });
  afterAll(() => db?.close());
  /** What the repository's clock reads; a test moves it by assigning a new reading. */
  let readClock: () => number;
  beforeEach(() => {
    metrics = new MetricsService();
    readClock = systemClock;
    ({ repo, turns } = conversationStoresOn(db.dataSource, metrics, { clock: () => readClock() }));
  });

  /** Claims a turn that sends no Idempotency-Key (so is never a replay). */
  async function claimTurn(input: TurnClaim): Promise<StartedTurn> {
    const outcome = await turns.claimAndLoad(input);
    if (outcome.kind !== 'claimed') {
      throw new Error('unexpected replay');
    }
    return outcome.turn;
  }

  /** A conversation with `count` completed user/assistant pairs after a system prompt. */
  async function conversationWith(count: number, userId = 'alice') {
    let conversationId: string | null = null;
    for (let i = 0; i < count; i++) {
      const turn = await claimTurn(
        base({
          userId,
          conversationId,
          messages: [user(`q${i}`)],
          system:
            i === 0
              ? { role: 'system', parts: [{ type: 'text', text: 'sys' }], tokenEstimate: 1 }
              : null,
        }),
      );
      await turns.finishTurn(turn, answer(`a${i}`));
      conversationId = turn.conversation.id;
    }
    return (await repo.findConversation(userId, conversationId as string))!;
  }

  it('creates a conversation with a random id, a system prompt and a pending user message', async () => {
    const turn = await claimTurn(
      base({
        system: { role: 'system', parts: [{ type: 'text', text: 'Be brief' }], tokenEstimate: 2 },
        title: 'hello',
      }),
    );
    expect(turn.isNew).toBe(true);
    expect(turn.conversation.id).toMatch(/^[0-9a-f-]{36}$/);
    expect(turn.inputs).toHaveLength(1);
    expect(turn.inputs[0]).toMatchObject({ role: 'user', status: 'pending', depth: 1 });
    const history = await repo.history(turn.conversation.headMessageId);
    expect(history.map((m) => [m.role, m.status])).toEqual([
      ['system', 'completed'],
      ['user', 'pending'],
    ]);
    const stored = await repo.findConversation('alice', turn.conversation.id);
    expect(stored).toMatchObject({ title: 'hello', model: 'm', activeTurnId: turn.turnId });
  });

  it('finishes a turn: assistant stored, inputs completed, claim released, in order', async () => {
    const conversation = await conversationWith(3);
    expect(conversation.activeTurnId).toBeNull();
    const history = await repo.history(conversation.headMessageId);
    expect(
      history.map((m) => `${m.role}:${(m.parts[0] as { text: string }).text}:${m.status}`),
    ).toEqual([
      'system:sys:completed',
      'user:q0:completed',
      'assistant:a0:completed',
      'user:q1:completed',
      'assistant:a1:completed',
      'user:q2:completed',
      'assistant:a2:completed',
    ]);
    expect(history.map((m) => m.depth)).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(history[6]).toMatchObject({
      finishReason: 'stop',
      promptTokens: 10,
      completionTokens: 2,
      model: 'm',
    });
    expect(await metrics.turnsStored.get()).toMatchObject({
      values: [expect.objectContaining({ value: 3, labels: { status: 'completed' } })],
    });
  });

  it('loads the history a turn extends with its claim; a refused history stores nothing', async () => {
    const conversation = await conversationWith(2);
    const claimed = await turns.claimAndLoad(base({ conversationId: conversation.id }));
    if (claimed.kind !== 'claimed') {
      throw new Error('unexpected replay');
    }
    expect(historyMessages(claimed.history).map((m) => m.role)).toEqual([
      'system',
      'user',
      'assistant',
      'user',
      'assistant',
    ]);
    expect(claimed.turn.inputs[0].parentId).toBe(conversation.headMessageId);
    await turns.finish(claimed, answer('a2'));
    const after = (await repo.findConversation('alice', conversation.id))!;
    const refusal = turns.claimAndLoad({
      ...base({ conversationId: conversation.id }),
      accept: (history) => {
        throw new ApiError('context_length_exceeded', `${history.length} messages`);
      },
    });
    await expectApiErrorCode(refusal, 'context_length_exceeded');
    expect(await repo.findConversation('alice', conversation.id)).toEqual(after);
  });

  it("hands the next turn the finished chain, as stored, and leaves each turn's history as it was", async () => {
    const conversation = await conversationWith(2);
    const claim = async () => {
      const claimed = await turns.claimAndLoad(base({ conversationId: conversation.id }));
      if (claimed.kind !== 'claimed') {
        throw new Error('unexpected replay');
      }
      return claimed;
    };
    const first = await claim();
    await turns.finish(first, answer('a2'));
    const second = await claim();
    await turns.finish(second, answer('a3'));
    const third = await claim();
    expect([first, second, third].map((c) => historyLength(c.history))).toEqual([5, 7, 9]);
    const stored = await repo.history(third.turn.inputs[0].parentId);
    expect(historyMessages(third.history)).toEqual(stored);
    expect(
      historyMessages(third.history)
        .slice(-2)
        .map((m) => [m.role, m.status]),
    ).toEqual([
      ['user', 'completed'],
      ['assistant', 'completed'],
    ]);
  });

  it('refuses a second turn while one holds the conversation: 409 conversation_busy', async () => {
    const first = await claimTurn(base());
    await expectApiErrorCode(
      claimTurn(base({ conversationId: first.conversation.id })),
      'conversation_busy',
    );
    await turns.finishTurn(first, answer('ok'));
    const second = await claimTurn(base({ conversationId: first.conversation.id }));
    expect(second.inputs[0].parentId).toBe(
      (await repo.history(second.conversation.headMessageId))[1].id,
    );
  });

  it('lets exactly one of many concurrent turns claim the conversation', async () => {
    const conversation = await conversationWith(1);
    const results = await Promise.allSettled(
      Array.from({ length: 8 }, () => claimTurn(base({ conversationId: conversation.id }))),
    );
    const codes = results.map((r) =>
      r.status === 'fulfilled' ? 'ok' : (r.reason as ApiError).code,
    );
    expect(codes.filter((c) => c === 'ok')).toHaveLength(1);
    expect(codes.filter((c) => c === 'conversation_busy')).toHaveLength(7);
  });

  it('answers 404 for another user and for an unknown id, identically', async () => {
    const conversation = await conversationWith(1);
    await expectApiErrorCode(
      claimTurn(base({ userId: 'mallory', conversationId: conversation.id })),
      'conversation_not_found',
    );
    await expectApiErrorCode(
      claimTurn(base({ conversationId: '00000000-0000-4000-8000-000000000000' })),
      'conversation_not_found',
    );
    expect(await repo.findConversation('mallory', conversation.id)).toBeNull();
  });

  it('makes a turn conditional on the head: 409 conversation_conflict', async () => {
    const conversation = await conversationWith(2);
    const history = await repo.history(conversation.headMessageId);
    await expectApiErrorCode(
      claimTurn(base({ conversationId: conversation.id, expectedLastMessageId: history[2].id })),
      'conversation_conflict',
    );
    const ok = await claimTurn(
      base({ conversationId: conversation.id, expectedLastMessageId: conversation.headMessageId }),
    );
    expect(ok.inputs[0].parentId).toBe(conversation.headMessageId);
  });

  it('fails a turn: inputs and an empty assistant marked failed, claim released, key forgotten', async () => {
    const turn = await claimTurn(base({ idempotency: { key: 'k-fail', fingerprint: 'f' } }));
    await turns.failTurn(turn, { errorCode: 'upstream_error', model: 'm' });
    const history = await repo.history(
      (await repo.findConversation('alice', turn.conversation.id))!.headMessageId,
    );
    expect(history.map((m) => [m.role, m.status, m.errorCode])).toEqual([
      ['user', 'failed', 'upstream_error'],
      ['assistant', 'failed', 'upstream_error'],
    ]);
    expect(await turns.findIdempotencyKey('alice', 'k-fail', 0)).toBeNull();
    const next = await claimTurn(base({ conversationId: turn.conversation.id }));
    expect(next.inputs[0].depth).toBe(2);
  });

  it('stores an incomplete answer with the user turn completed', async () => {
    const turn = await claimTurn(base());
    await turns.finishTurn(turn, {
      ...answer('partial'),
      status: 'incomplete',
      finishReason: null,
    });
    const history = await repo.history(
      (await repo.findConversation('alice', turn.conversation.id))!.headMessageId,
    );
    expect(history.map((m) => m.status)).toEqual(['completed', 'incomplete']);
  });

  it('records an Idempotency-Key with its turn; a retry replays it, without its answer while it runs', async () => {
    const turn = await claimTurn(base({ idempotency: { key: 'k1', fingerprint: 'fp' } }));
    const pending = await turns.findIdempotencyKey('alice', 'k1', 0);
    expect(pending).toMatchObject({
      conversationId: turn.conversation.id,
      turnId: turn.turnId,
      assistantMessageId: null,
    });
    const retry = () => turns.claimAndLoad(base({ idempotency: { key: 'k1', fingerprint: 'fp' } }));
    expect(await retry()).toEqual({
      kind: 'replay',
      conversationId: turn.conversation.id,
      fingerprint: 'fp',
      assistant: null,
    });
    const assistant = await turns.finishTurn(turn, answer('x'));
    expect((await turns.findIdempotencyKey('alice', 'k1', 0))?.assistantMessageId).toBe(
      assistant.id,
    );
    expect(await retry()).toMatchObject({ kind: 'replay', assistant: { id: assistant.id } });
    expect(await turns.findIdempotencyKey('bob', 'k1', 0)).toBeNull();
  });

  it('replaces an Idempotency-Key record older than 24 hours', async () => {
    const start = systemClock();
    readClock = () => start - IDEMPOTENCY_TTL_MS - 1000;
    const old = await claimTurn(base({ idempotency: { key: 'k-old', fingerprint: 'a' } }));
    await turns.finishTurn(old, answer('x'));
    readClock = () => start;
    expect(await turns.findIdempotencyKey('alice', 'k-old', start - IDEMPOTENCY_TTL_MS)).toBeNull();
    const fresh = await claimTurn(base({ idempotency: { key: 'k-old', fingerprint: 'b' } }));
    expect((await turns.findIdempotencyKey('alice', 'k-old', 0))?.turnId).toBe(fresh.turnId);
  });

  it('reaps a turn whose claim expired: pending messages failed, claim released', async () => {
    const turn = await claimTurn(base({ claimTtlMs: 1 }));
    await new Promise((r) => setTimeout(r, 5));
    expect(await turns.reapExpiredTurns(systemClock())).toBeGreaterThanOrEqual(1);
    const conversation = (await repo.findConversation('alice', turn.conversation.id))!;
    expect(conversation.activeTurnId).toBeNull();
    const history = await repo.history(conversation.headMessageId);
    expect(history.map((m) => [m.status, m.errorCode])).toEqual([['failed', 'internal_error']]);
  });

  it('takes over an expired claim when the next turn starts', async () => {
    const stale = await claimTurn(base({ claimTtlMs: 1 }));
    await new Promise((r) => setTimeout(r, 5));
    const next = await claimTurn(base({ conversationId: stale.conversation.id }));
    const history = await repo.history(next.conversation.headMessageId);
    expect(history.map((m) => m.status)).toEqual(['failed', 'pending']);
    await expectApiErrorCode(turns.finishTurn(stale, answer('late')), 'conversation_conflict');
  });

  it('lists a user’s conversations newest first with a cursor, never another user’s', async () => {
    let t = 1_000_000;
    readClock = () => (t += 10);
    const mine = [];
    for (let i = 0; i < 5; i++) {
      mine.push((await conversationWith(1, 'lister')).id);
    }
    await conversationWith(1, 'other-lister');
    const page1 = await repo.listConversations('lister', 2, null);
    expect(page1.map((c) => c.id)).toEqual([mine[4], mine[3]]);
    const last = page1[1];
    const page2 = await repo.listConversations('lister', 10, {
      updatedAt: last.updatedAt,
      id: last.id,
    });
    expect(page2.map((c) => c.id)).toEqual([mine[2], mine[1], mine[0]]);
  });

  it('updates title and metadata, only for the owner', async () => {
    const conversation = await conversationWith(1);
    expect(await repo.updateConversation('mallory', conversation.id, { title: 'x' })).toBeNull();
    const updated = await repo.updateConversation('alice', conversation.id, {
      title: 'Renamed',
      metadata: { project: 'p1' },
    });
    expect(updated).toMatchObject({ title: 'Renamed', metadata: { project: 'p1' } });
    const cleared = await repo.updateConversation('alice', conversation.id, { metadata: null });
    expect(cleared).toMatchObject({ title: 'Renamed', metadata: null });
  });

  it('forks at a message without copying, and keeps shared messages until the last owner goes', async () => {
    const source = await conversationWith(3);
    const history = await repo.history(source.headMessageId);
    const fork = await repo.forkConversation(source, history[2]);
    expect(fork.id).not.toBe(source.id);
    expect((await repo.history(fork.headMessageId)).map((m) => m.id)).toEqual(
      history.slice(0, 3).map((m) => m.id),
    );
    const turn = await claimTurn(base({ conversationId: fork.id, messages: [user('edited')] }));
    await turns.finishTurn(turn, answer('new branch'));
    expect((await repo.history(source.headMessageId)).map((m) => m.id)).toEqual(
      history.map((m) => m.id),
    );

    expect(await repo.deleteConversation('mallory', source.id)).toBe('not_found');
    expect(await repo.deleteConversation('alice', source.id)).toBe('deleted');
    const forked = (await repo.findConversation('alice', fork.id))!;
    expect(await repo.history(forked.headMessageId)).toHaveLength(5);
    expect(await repo.deleteConversation('alice', fork.id)).toBe('deleted');
    expect(await repo.findMessage(history[0].id)).toBeNull();
  });

  it('refuses to delete a conversation a turn holds', async () => {
    const turn = await claimTurn(base());
    expect(await repo.deleteConversation('alice', turn.conversation.id)).toBe('busy');
    await turns.finishTurn(turn, answer('x'));
    expect(await repo.deleteConversation('alice', turn.conversation.id)).toBe('deleted');
  });

  it('maps a database failure to storage_error', async () => {
    const { repo: broken } = conversationStoresOn(
      {
        ...db.dataSource,
        query: () => Promise.reject(new Error('disk I/O error')),
      } as never,
      metrics,
    );
    await expectApiErrorCode(broken.findConversation('alice', 'x'), 'storage_error');
  });
}

describe('ConversationsRepository (SQLite)', () => {
  repositorySuite(() => 'sqlite');
});

describeIfEnv('TEST_DATABASE_URL', 'ConversationsRepository (PostgreSQL)', () => {
  repositorySuite(() => testDatabaseUrl());
});
