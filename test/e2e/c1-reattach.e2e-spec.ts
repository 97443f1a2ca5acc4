import { openModel } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { expectApiError } from 'test/support/expect-api-error';
import { createKey, startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';

/**
 * GET /c1/conversations/{id}/stream: a client that left a streamed /c1 turn (a reloaded chat
 * tab) reattaches to it, gets what was sent, then follows it to its end; Last-Event-ID skips
 * what it has.
 */
describe('/c1 reattach', () => {
  let slow: FakeUpstream;
  let gw: TestGateway;
  let bobKey: string;

  beforeAll(async () => {
    slow = await startFakeUpstream({ chunkDelayMs: 60, streamChunks: 12 });
    gw = await startGateway({
      models: {
        models: [openModel('slow', slow.url, 'slow-model')],
      },
    });
    bobKey = (await createKey(gw, { name: 'bob', user_id: 'bob' })).key;
  });
  afterAll(async () => {
    await gw?.close();
    await slow?.close();
  });

  /** Starts a streamed turn, reads its first bytes, and hangs up; resolves with its id. */
  async function startAndLeave(
    text: string,
    path = '/c1/chat/completions',
    extra: object = {},
  ): Promise<string> {
    const controller = new AbortController();
    const res = await fetch(`${gw.url}${path}`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        model: 'slow',
        stream: true,
        messages: [{ role: 'user', content: text }],
        ...extra,
      }),
      signal: controller.signal,
    });
    const id = res.headers.get('x-conversation-id')!;
    const reader = res.body!.getReader();
    await reader.read();
    controller.abort();
    return id;
  }

  /** The SSE events of a reattach, read to the end: their ids and data. */
  async function reattach(id: string, lastEventId?: string) {
    const res = await fetch(`${gw.url}/c1/conversations/${id}/stream`, {
      headers: {
        authorization: `Bearer ${TEST_API_KEY}`,
        ...(lastEventId === undefined ? {} : { 'last-event-id': lastEventId }),
      },
    });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/event-stream');
    const text = await res.text();
    return text
      .split('\n\n')
      .filter((block) => block.trim() !== '')
      .map((block) => {
        const idLine = /^id: (\d+)$/m.exec(block);
        const data = /^data: (.*)$/m.exec(block)?.[1] ?? '';
        const event = /^event: (.*)$/m.exec(block)?.[1] ?? null;
        return { id: Number(idLine?.[1]), event, data };
      });
  }

  const contentOf = (events: { data: string }[]) =>
    events
      .filter((e) => e.data !== '[DONE]')
      .map((e) => JSON.parse(e.data).choices?.[0]?.delta?.content ?? '')
      .join('');

  it('replays what was sent, then follows the turn to its end', async () => {
    const id = await startAndLeave('reattach to this answer please');
    const events = await reattach(id);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i));
    expect(events[events.length - 1].data).toBe('[DONE]');
    expect(contentOf(events)).toBe('You said: reattach to this answer please');
    // The turn was stored whole, though its client left.
    const detail = await gw.get(`/c1/conversations/${id}`);
    expect(detail.body.messages[1]).toMatchObject({
      content: 'You said: reattach to this answer please',
      status: 'completed',
    });
    // Nothing generates any more.
    expectApiError(await gw.get(`/c1/conversations/${id}/stream`), 404, 'no_active_turn');
  });

  it('skips what the client has with Last-Event-ID', async () => {
    const id = await startAndLeave('skip the first few events of this one');
    const events = await reattach(id, '3');
    expect(events[0].id).toBe(4);
    expect(events.map((e) => e.id)).toEqual(events.map((_, i) => i + 4));
    expect(events[events.length - 1].data).toBe('[DONE]');
  });

  it('replays a /c1/messages turn in the Anthropic event format it started in', async () => {
    const id = await startAndLeave('reattach to a messages turn', '/c1/messages', {
      max_tokens: 100,
    });
    const events = await reattach(id);
    // One id per piece the turn sent, on its last event: an Anthropic piece can hold several
    // events (ping, message_delta + message_stop).
    const ids = events.map((e) => e.id).filter((n) => !Number.isNaN(n));
    expect(ids).toEqual(ids.map((_, i) => i));
    expect(events[0].event).toBe('message_start');
    expect(events[events.length - 1]).toMatchObject({
      event: 'message_stop',
      id: ids[ids.length - 1],
    });
    const text = events
      .filter((e) => e.event === 'content_block_delta')
      .map((e) => JSON.parse(e.data).delta.text ?? '')
      .join('');
    expect(text).toBe('You said: reattach to a messages turn');
  });

  it('gives a client cut inside a piece of several events the whole piece again', async () => {
    const path = '/c1/messages';
    const extra = { max_tokens: 100 };
    const whole = await reattach(await startAndLeave('cut inside a piece', path, extra));
    // The last piece holds several events (message_delta, message_stop).
    const withId = whole.flatMap((e, i) => (Number.isNaN(e.id) ? [] : [i]));
    const firstOfPiece = withId[withId.length - 2] + 1;
    expect(whole.length - firstOfPiece).toBeGreaterThan(1);
    // A client cut after the piece's first event holds the last id it saw (an EventSource's
    // Last-Event-ID): the previous piece's, so its reconnect gets the whole piece.
    const seen = whole.slice(0, firstOfPiece + 1).filter((e) => !Number.isNaN(e.id));
    const lastEventId = seen[seen.length - 1].id;
    const again = await startAndLeave('cut inside a piece', path, extra);
    const resumed = await reattach(again, String(lastEventId));
    expect(resumed.map((e) => e.event)).toEqual(whole.slice(firstOfPiece).map((e) => e.event));
    expect(resumed[resumed.length - 1]).toMatchObject({
      event: 'message_stop',
      id: whole[whole.length - 1].id,
    });
  });

  it("answers another user's conversation like a missing one, and checks Last-Event-ID", async () => {
    const id = await startAndLeave('private stream');
    const foreign = await gw.get(`/c1/conversations/${id}/stream`, { key: bobKey });
    const missing = await gw.get(`/c1/conversations/00000000-0000-4000-8000-000000000000/stream`, {
      key: bobKey,
    });
    expectApiError(foreign, 404, 'conversation_not_found');
    expect(foreign.text).toBe(missing.text);
    const bad = await gw.get(`/c1/conversations/${id}/stream`, {
      headers: { 'last-event-id': 'abc' },
    });
    expectApiError(bad, 400, 'invalid_field', { param: 'last-event-id' });
  });
});
