import { historyMessages } from 'src/modules/conversations/history-chain';
import { HttpAdapterHost } from '@nestjs/core';
import { ApiError } from 'src/common/errors/api-error';
import { loadConfig } from 'src/config/load-config';
import { LifecycleService } from 'src/modules/lifecycle/lifecycle.service';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { NewMessage, StartedTurn, TurnFailure } from 'src/modules/conversations/conversation.types';
import {
  ForwardedTurn,
  SettledTurn,
  StoredReplay,
  TurnCommand,
  TurnEngine,
  TurnOutcome,
  TurnSink,
} from 'src/modules/conversations/turn-engine';
import { unstoredMessage } from 'src/modules/conversations/turn-messages';
import { TurnReaper } from 'src/modules/conversations/turn-reaper';
import { TurnClaim } from 'src/modules/conversations/turn-store';
import { capturedLogger } from 'test/support/captured-log';
import { InMemoryTurnStore } from 'test/support/in-memory-turn-store';

const user = (text: string): NewMessage => ({
  role: 'user',
  parts: [{ type: 'text', text }],
  tokenEstimate: 3,
});

const answered = (text: string): TurnOutcome => ({
  status: 'completed',
  answer: {
    message: { role: 'assistant', parts: [{ type: 'text', text }] },
    finishReason: 'stop',
    usage: { promptTokens: 7, completionTokens: 2 },
  },
});

/** A sink whose upstream is `answer`: it sees the turn as forwarded and settles what it returns. */
class ScriptedSink implements TurnSink {
  readonly forwarded: ForwardedTurn[] = [];
  readonly replayed: StoredReplay[] = [];
  settled: SettledTurn | null = null;

  constructor(private readonly answer: (turn: ForwardedTurn) => Promise<TurnOutcome>) {}

  replay(replayed: StoredReplay): void {
    this.replayed.push(replayed);
  }

  render(): void {}

  async forward(turn: ForwardedTurn): Promise<void> {
    this.forwarded.push(turn);
    this.settled = await turn.settle(await this.answer(turn));
  }
}

describe(TurnEngine.name, () => {
  let store: InMemoryTurnStore;
  let lifecycle: LifecycleService;
  let settledLater: { turn: StartedTurn; failure: TurnFailure }[];
  let engine: TurnEngine;
  let logLines: Record<string, unknown>[];
  let requestLog: TurnCommand['log'];

  beforeEach(() => {
    const captured = capturedLogger();
    logLines = captured.lines;
    requestLog = captured.logger.child({ reqId: 'req-turn' });
    store = new InMemoryTurnStore();
    lifecycle = new LifecycleService(loadConfig({}), new MetricsService(), {} as HttpAdapterHost);
    settledLater = [];
    // The reaper's retry loop needs the SQL store; what the engine hands it is what matters.
    const reaper = {
      settleLater: (turn: StartedTurn, failure: TurnFailure) =>
        settledLater.push({ turn, failure }),
    } as unknown as TurnReaper;
    engine = new TurnEngine(store, lifecycle, reaper);
  });

  const claim = (over: Partial<TurnClaim> = {}): TurnClaim => ({
    userId: 'alice',
    conversationId: null,
    model: 'm',
    messages: [user('hello')],
    claimTtlMs: 60_000,
    ...over,
  });
  const command = (over: Partial<TurnClaim> = {}): TurnCommand => ({
    model: 'm',
    onClientGone: 'detach',
    claim: claim(over),
    log: requestLog,
  });

  /** A conversation with one finished turn. */
  async function conversation(): Promise<string> {
    const sink = new ScriptedSink(() => Promise.resolve(answered('first')));
    await engine.run(command(), sink);
    return sink.forwarded[0].claimed!.turn.conversation.id;
  }

  it('stores the turn before it goes upstream, then its answer, and releases the claim', async () => {
    const id = await conversation();
    const sink = new ScriptedSink((turn) => {
      // What the store holds when the upstream is called.
      const held = store.conversations.get(id)!;
      expect(held.activeTurnId).toBe(turn.claimed!.turn.turnId);
      expect(store.chain(held.headMessageId).map((m) => [m.role, m.status])).toEqual([
        ['user', 'completed'],
        ['assistant', 'completed'],
        ['user', 'pending'],
      ]);
      return Promise.resolve(answered('second'));
    });

    await engine.run(command({ conversationId: id, messages: [user('again')] }), sink);

    expect(historyMessages(sink.forwarded[0].history).map((m) => m.role)).toEqual([
      'user',
      'assistant',
    ]);
    const after = store.conversations.get(id)!;
    expect(after.activeTurnId).toBeNull();
    const chain = store.chain(after.headMessageId);
    expect(chain.map((m) => m.status)).toEqual([
      'completed',
      'completed',
      'completed',
      'completed',
    ]);
    expect(chain[3]).toMatchObject({
      role: 'assistant',
      parts: [{ type: 'text', text: 'second' }],
      finishReason: 'stop',
      promptTokens: 7,
      completionTokens: 2,
      model: 'm',
    });
    expect(sink.settled).toEqual({ assistant: chain[3], error: null });
  });

  it('answers 409 conversation_busy while another turn holds the conversation, forwarding nothing', async () => {
    const id = await conversation();
    let release!: () => void;
    const first = new ScriptedSink(
      () => new Promise<TurnOutcome>((resolve) => (release = () => resolve(answered('late')))),
    );
    const running = engine.run(command({ conversationId: id }), first);
    await new Promise((resolve) => setImmediate(resolve));
    const second = new ScriptedSink(() => Promise.resolve(answered('never')));

    await expect(engine.run(command({ conversationId: id }), second)).rejects.toMatchObject({
      code: 'conversation_busy',
    });
    expect(second.forwarded).toHaveLength(0);
    release();
    await running;
    expect(store.conversations.get(id)!.activeTurnId).toBeNull();
  });

  it('stores an upstream failure as a failed turn and rethrows it', async () => {
    const id = await conversation();
    const failure = new ApiError('upstream_timeout', 'The model server did not answer in time');
    const sink = new ScriptedSink(() => Promise.reject(failure));

    await expect(engine.run(command({ conversationId: id }), sink)).rejects.toBe(failure);

    const after = store.conversations.get(id)!;
    expect(after.activeTurnId).toBeNull();
    const chain = store.chain(after.headMessageId);
    expect(chain.slice(2).map((m) => [m.role, m.status, m.errorCode])).toEqual([
      ['user', 'failed', 'upstream_timeout'],
      ['assistant', 'failed', 'upstream_timeout'],
    ]);
  });

  it('fails the turn when rendering its prompt throws', async () => {
    const sink = new ScriptedSink(() => Promise.resolve(answered('never')));
    sink.render = () => {
      throw new ApiError('invalid_field', 'response_format is not supported here');
    };

    await expect(engine.run(command(), sink)).rejects.toMatchObject({ code: 'invalid_field' });

    const [only] = [...store.conversations.values()];
    expect(only.activeTurnId).toBeNull();
    expect(store.chain(only.headMessageId).map((m) => m.status)).toEqual(['failed', 'failed']);
    expect(sink.forwarded).toHaveLength(0);
  });

  it('keeps a turn whose client hung up (detach) tracked until its answer is stored', async () => {
    let isClientGone = false;
    const tracked: number[] = [];
    const sink = new ScriptedSink(async () => {
      isClientGone = true; // the client left; a detached turn reads on
      tracked.push(lifecycle.trackedCount);
      await new Promise((resolve) => setImmediate(resolve));
      return answered('stored anyway');
    });

    await engine.run(command(), sink);

    expect(isClientGone).toBe(true);
    expect(tracked).toEqual([1]);
    expect(lifecycle.trackedCount).toBe(0);
    const [only] = [...store.conversations.values()];
    expect(store.chain(only.headMessageId).at(-1)).toMatchObject({
      status: 'completed',
      parts: [{ type: 'text', text: 'stored anyway' }],
    });
  });

  it('stores what arrived of a cut answer as incomplete, the user turn completed', async () => {
    const sink = new ScriptedSink(() =>
      Promise.resolve({ ...answered('half'), status: 'incomplete' } as TurnOutcome),
    );
    await engine.run(command(), sink);
    const [only] = [...store.conversations.values()];
    expect(store.chain(only.headMessageId).map((m) => m.status)).toEqual([
      'completed',
      'incomplete',
    ]);
  });

  it('replays a repeated Idempotency-Key without forwarding it again', async () => {
    const idempotency = { key: 'k1', fingerprint: 'body-1' };
    const first = new ScriptedSink(() => Promise.resolve(answered('once')));
    await engine.run(command({ idempotency }), first);
    const size = store.messages.size;

    const again = new ScriptedSink(() => Promise.resolve(answered('twice')));
    await engine.run(command({ idempotency }), again);

    expect(again.forwarded).toHaveLength(0);
    expect(again.replayed).toEqual([
      expect.objectContaining({
        conversationId: first.forwarded[0].claimed!.turn.conversation.id,
        assistant: first.settled!.assistant,
      }),
    ]);
    expect(store.messages.size).toBe(size);
  });

  it('refuses a repeated Idempotency-Key with another body (400) or still running (409)', async () => {
    let release!: () => void;
    const first = new ScriptedSink(
      () => new Promise<TurnOutcome>((resolve) => (release = () => resolve(answered('slow')))),
    );
    const running = engine.run(command({ idempotency: { key: 'k', fingerprint: 'a' } }), first);
    await new Promise((resolve) => setImmediate(resolve));
    const retry = (fingerprint: string) =>
      engine.run(
        command({ idempotency: { key: 'k', fingerprint } }),
        new ScriptedSink(() => Promise.resolve(answered('never'))),
      );

    await expect(retry('a')).rejects.toMatchObject({ code: 'conversation_busy' });
    await expect(retry('b')).rejects.toMatchObject({
      code: 'invalid_field',
      param: 'idempotency-key',
    });
    release();
    await running;
  });

  it('writes nothing for a turn that is not stored (store: false), yet answers it', async () => {
    const sink = new ScriptedSink(() => Promise.resolve(answered('ephemeral')));
    const history = [unstoredMessage(user('before'), 1)];
    const inputs = [unstoredMessage(user('now'), 2)];

    await engine.run(
      {
        model: 'm',
        onClientGone: 'detach',
        claim: null,
        unstored: { history, inputs },
        log: requestLog,
      },
      sink,
    );

    expect(store.conversations.size).toBe(0);
    expect(store.messages.size).toBe(0);
    expect(sink.forwarded[0]).toMatchObject({ claimed: null, inputs });
    expect(historyMessages(sink.forwarded[0].history)).toEqual(history);
    expect(sink.settled?.assistant).toMatchObject({
      role: 'assistant',
      status: 'completed',
      parts: [{ type: 'text', text: 'ephemeral' }],
    });
  });

  it('hands a failure the database could not store to the reaper, keeping the error', async () => {
    const failure = new ApiError('upstream_error', 'The model server failed');
    const sink = new ScriptedSink(() => {
      store.isDown = true;
      return Promise.reject(failure);
    });

    await expect(engine.run(command(), sink)).rejects.toBe(failure);

    expect(settledLater).toEqual([
      {
        turn: expect.objectContaining({ turnId: sink.forwarded[0].claimed!.turn.turnId }),
        failure: { id: undefined, errorCode: 'upstream_error', model: 'm' },
      },
    ]);
    const conversationId = sink.forwarded[0].claimed!.turn.conversation.id;
    expect(logLines).toEqual([
      expect.objectContaining({
        level: 50,
        reqId: 'req-turn',
        context: 'conversations',
        msg: `could not mark turn of conversation ${conversationId} failed: connect ECONNREFUSED 127.0.0.1:5432`,
      }),
    ]);
  });

  it('ends a stored answer that cannot be written with storage_error, the turn left to the reaper', async () => {
    const sink = new ScriptedSink(() => {
      store.isDown = true;
      return Promise.resolve(answered('lost'));
    });

    await engine.run(command(), sink);

    expect(sink.settled?.error).toMatchObject({ code: 'storage_error' });
    expect(sink.settled?.assistant).toMatchObject({ status: 'failed', errorCode: 'storage_error' });
    expect(settledLater).toHaveLength(1);
    // A stream ends with the error event and no exception filter line: these are the operator's.
    const conversationId = sink.forwarded[0].claimed!.turn.conversation.id;
    expect(logLines.map((l) => [l.reqId, l.context, l.msg])).toEqual([
      [
        'req-turn',
        'conversations',
        `could not store the answer of conversation ${conversationId}: connect ECONNREFUSED 127.0.0.1:5432`,
      ],
      [
        'req-turn',
        'conversations',
        `could not mark turn of conversation ${conversationId} failed: connect ECONNREFUSED 127.0.0.1:5432`,
      ],
    ]);
  });
});
