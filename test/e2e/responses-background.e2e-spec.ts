import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import {
  fakeModelCatalog,
  writeModelsFile,
  openModel,
  openAnthropicModel,
} from 'test/support/fake-catalog';
import { fakeAnswerFor, FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import {
  FakeAnthropicUpstream,
  startFakeAnthropicUpstream,
} from 'test/support/fake-anthropic-upstream';
import { spawnGateway, SpawnedGateway, sqliteGatewayEnv } from 'test/support/spawn-gateway';
import { startGateway, TEST_API_KEY, TestGateway } from 'test/support/start-gateway';
import { expectApiError } from 'test/support/expect-api-error';
import { sleep, waitFor } from 'test/support/time';

/**
 * `background: true` responses: they run in the gateway whatever the client does, their
 * events are stored and resumed with `GET /v1/responses/{id}?stream=true&starting_after=N`,
 * `POST …/cancel` stops them, and a kill -9 leaves none `in_progress` after a restart.
 */

/** The events of `GET /v1/responses/{id}?stream=true`, read to the end with the SDK. */
async function resume(client: OpenAI, id: string, startingAfter?: number): Promise<any[]> {
  const stream = await client.responses.retrieve(id, {
    stream: true,
    ...(startingAfter === undefined ? {} : { starting_after: startingAfter }),
  });
  const events: any[] = [];
  for await (const event of stream) {
    events.push(event);
  }
  return events;
}

describe('/v1/responses background', () => {
  let slow: FakeUpstream;
  let gw: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    slow = await startFakeUpstream({ chunkDelayMs: 40, streamChunks: 20 });
    gw = await startGateway({
      models: {
        models: [openModel('slow', slow.url, 'slow-model')],
      },
    });
    client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await slow?.close();
  });

  it('answers queued at once, finishes in the gateway, and replays its events from any point', async () => {
    const input = 'a background answer that takes a while to generate';
    const before = slow.received.length;
    const queued = await client.responses.create({ model: 'slow', input, background: true });
    // Answered before the generation ended: the upstream had not sent the whole answer yet.
    const sentWhenQueued = slow.received.length > before ? slow.received.at(-1)!.sentBytes : 0;
    expect(queued.status).toBe('queued');
    expect(queued.background).toBe(true);

    const done = await waitFor(
      async () => {
        const r = await client.responses.retrieve(queued.id);
        return r.status === 'queued' || r.status === 'in_progress' ? null : r;
      },
      { timeoutMs: 15_000 },
    );
    expect(done.status).toBe('completed');
    expect(done.output_text).toBe(`You said: ${input}`);
    expect(sentWhenQueued).toBeLessThan(slow.received.at(-1)!.sentBytes);

    const all = await resume(client, queued.id);
    expect(all.map((e) => e.sequence_number)).toEqual(all.map((_, i) => i));
    expect(all[0].type).toBe('response.created');
    expect(all[all.length - 1].type).toBe('response.completed');
    expect(all[all.length - 1].response.output).toEqual(done.output);
    const text = all
      .filter((e) => e.type === 'response.output_text.delta')
      .map((e) => e.delta)
      .join('');
    expect(text).toBe(`You said: ${input}`);

    const tail = await resume(client, queued.id, 5);
    expect(tail.map((e) => e.sequence_number)).toEqual(all.slice(6).map((e) => e.sequence_number));
  });

  it('follows a running background response: stored events first, then new ones, no gap', async () => {
    const queued = await client.responses.create({
      model: 'slow',
      input: 'followed while it runs',
      background: true,
    });
    await sleep(200);
    const events = await resume(client, queued.id);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events[events.length - 1].type).toBe('response.completed');
  });

  it('cancel stops the upstream, stores what arrived, and frees the conversation', async () => {
    const queued = await client.responses.create({
      model: 'slow',
      input: 'cancel me before I finish this rather long answer',
      background: true,
    });
    await sleep(300);
    const cancelled = await client.responses.cancel(queued.id);
    expect(cancelled.status).toBe('cancelled');
    const full = 'You said: cancel me before I finish this rather long answer';
    const text = (cancelled.output[0] as any).content[0].text as string;
    expect(text.length).toBeGreaterThan(0);
    expect(text.length).toBeLessThan(full.length);
    expect(full.startsWith(text)).toBe(true);
    const request = slow.received[slow.received.length - 1];
    await waitFor(() => request.hungUp || null, { timeoutMs: 3_000, what: 'the upstream hang-up' });

    const events = await resume(client, queued.id);
    expect(events[events.length - 1].type).toBe('response.cancelled');
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    // The conversation is free again: the next turn runs.
    const next = await client.responses.create({
      model: 'slow',
      input: 'after the cancel',
      previous_response_id: queued.id,
    });
    expect(next.status).toBe('completed');
    expect((await client.responses.retrieve(queued.id)).status).toBe('cancelled');
  });

  it('streams a background response to its creator while storing it', async () => {
    const stream = await client.responses.create({
      model: 'slow',
      input: 'streamed and stored',
      background: true,
      stream: true,
    });
    const live: any[] = [];
    for await (const event of stream) {
      live.push(event);
    }
    const id = live[0].response.id;
    expect(live[live.length - 1].type).toBe('response.completed');
    const stored = await resume(client, id);
    expect(stored).toEqual(live);
  });

  it('stores a background response whose upstream fails as failed, its events ending in response.failed', async () => {
    slow.next({ kind: 'error', status: 500 });
    const queued = await client.responses.create(
      { model: 'slow', input: 'the upstream refuses this one', background: true },
      { headers: { 'x-request-id': 'bg-upstream-refuses' } },
    );
    const failed = await waitFor(async () => {
      const r = await client.responses.retrieve(queued.id);
      return r.status === 'queued' || r.status === 'in_progress' ? null : r;
    });
    expect(failed.status).toBe('failed');
    expect(failed.error).toMatchObject({ code: 'upstream_error' });
    const events = await resume(client, queued.id);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events[events.length - 1].type).toBe('response.failed');
    expect(events[events.length - 1].response.error).toEqual(failed.error);
    // The run outlives its request, yet logs under its request id.
    expect(gw.logs.filter((l) => l.reqId === 'bg-upstream-refuses')).toEqual(
      expect.arrayContaining([
        expect.objectContaining({ msg: 'upstream failure', model: 'slow', upstream_status: 500 }),
        expect.objectContaining({
          context: 'responses',
          msg: expect.stringMatching(/^background response .* failed: /),
        }),
      ]),
    );
  });

  it('finishes a streamed background response whose client left, and answers a late cancel as it is', async () => {
    const input = 'the client of this stream leaves early';
    const controller = new AbortController();
    const res = await fetch(`${gw.url}/v1/responses`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TEST_API_KEY}`, 'content-type': 'application/json' },
      body: JSON.stringify({ model: 'slow', input, background: true, stream: true }),
      signal: controller.signal,
    });
    const reader = res.body!.getReader();
    let head = '';
    while (!/"id":"resp_[^"]+"/.test(head)) {
      head += new TextDecoder().decode((await reader.read()).value);
    }
    controller.abort();
    const id = /"id":"(resp_[^"]+)"/.exec(head)![1];
    const done = await waitFor(async () => {
      const r = await client.responses.retrieve(id);
      return r.status === 'queued' || r.status === 'in_progress' ? null : r;
    });
    expect(done.status).toBe('completed');
    expect(done.output_text).toBe(`You said: ${input}`);
    const late = await client.responses.cancel(id);
    expect(late.status).toBe('completed');
    expect(late.output).toEqual(done.output);
  });

  it('checks starting_after', async () => {
    const queued = await client.responses.create({ model: 'slow', input: 'x', background: true });
    for (const bad of ['abc', '-2', '1.5']) {
      const res = await gw.get(`/v1/responses/${queued.id}?stream=true&starting_after=${bad}`);
      expectApiError(res, 400, 'invalid_field', { param: 'starting_after' });
    }
  });

  it('ends at once a resume from the final event of a finished response, or past it', async () => {
    const queued = await client.responses.create({
      model: 'slow',
      input: 'short',
      background: true,
    });
    const all = await resume(client, queued.id);
    const last = all[all.length - 1].sequence_number as number;
    for (const after of [last, last + 5]) {
      const res = await gw.get(`/v1/responses/${queued.id}?stream=true&starting_after=${after}`, {
        signal: AbortSignal.timeout(3_000),
      });
      expect(res.status).toBe(200);
      expect(res.text).toBe('');
    }
    // One event short of the end: that event, then the end.
    const tail = await gw.get(`/v1/responses/${queued.id}?stream=true&starting_after=${last - 1}`, {
      signal: AbortSignal.timeout(3_000),
    });
    const frames = tail.text.split('\n\n').filter((f) => f !== '');
    expect(frames).toHaveLength(1);
    expect(JSON.parse(frames[0].split('data: ')[1])).toEqual(all[all.length - 1]);
  });

  it('refuses cancel and event replay for a response that is not a background one', async () => {
    const plain = await client.responses.create({ model: 'slow', input: 'plain' });
    const cancel = await gw.post(`/v1/responses/${plain.id}/cancel`, {});
    expect(cancel.status).toBe(400);
    expect(cancel.body.error.code).toBe('invalid_field');
    const replay = await gw.get(`/v1/responses/${plain.id}?stream=true`);
    expect(replay.status).toBe(400);
    expect(replay.body.error.param).toBe('stream');
  });
});

describe('/v1/responses background on an anthropic upstream', () => {
  let an: FakeAnthropicUpstream;
  let gw: TestGateway;
  let client: OpenAI;

  beforeAll(async () => {
    an = await startFakeAnthropicUpstream({ chunkDelayMs: 60, streamChunks: 40 });
    gw = await startGateway({
      env: { FAKE_ANTHROPIC_KEY: 'sk-ant-upstream-0123456789' },
      models: {
        models: [openAnthropicModel('claude', an.url)],
      },
    });
    client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
  });
  afterAll(async () => {
    await gw?.close();
    await an?.close();
  });

  it('is followed and cancelled like any other: the Messages request stops, what arrived is kept', async () => {
    const input = 'a background answer from claude, cancelled half way through';
    const queued = await client.responses.create({ model: 'claude', input, background: true });
    const events: any[] = [];
    let cancel: Promise<OpenAI.Responses.Response> | null = null;
    for await (const event of await client.responses.retrieve(queued.id, { stream: true })) {
      events.push(event);
      if (!cancel && events.filter((e) => e.type === 'response.output_text.delta').length === 3) {
        cancel = client.responses.cancel(queued.id);
      }
    }
    const cancelled = await cancel!;
    expect(cancelled.status).toBe('cancelled');
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events[events.length - 1].type).toBe('response.cancelled');
    const text = events
      .filter((e) => e.type === 'response.output_text.delta')
      .map((e) => e.delta)
      .join('');
    expect((cancelled.output[0] as any).content[0].text).toBe(text);
    expect((await client.responses.retrieve(queued.id)).output_text).toBe(text);
    expect(`You said: ${input}`.startsWith(text)).toBe(true);
    expect(text.length).toBeLessThan(`You said: ${input}`.length);
    const request = an.received[an.received.length - 1];
    expect(request.body).toMatchObject({
      model: 'claude-upstream',
      messages: [{ role: 'user' }],
    });
    await waitFor(() => request.hungUp || null, { timeoutMs: 3_000, what: 'the upstream hang-up' });
  });
});

describe('/v1/responses background across kill -9', () => {
  let up: FakeUpstream;
  let dir: string;
  let gw: SpawnedGateway | null = null;

  beforeAll(async () => {
    up = await startFakeUpstream({ chunkDelayMs: 150, streamChunks: 40 });
    dir = mkdtempSync(join(tmpdir(), 'parley-bg-kill-'));
    writeModelsFile(dir, fakeModelCatalog(up.url));
  });
  afterAll(async () => {
    gw?.kill('SIGKILL');
    await up?.close();
    rmSync(dir, { recursive: true, force: true });
  });

  const start = () => spawnGateway({ ...sqliteGatewayEnv(dir), BACKGROUND_STALE_SECS: '2' });

  it('resolves a background response cut by kill -9 to a final status, stream resumable without gaps', async () => {
    gw = await start();
    let client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const input = 'a long answer that the crash will cut somewhere in the middle';
    const queued = await client.responses.create({ model: 'fake', input, background: true });
    // Let some events reach the database, then pull the plug.
    await sleep(1_500);
    gw.kill('SIGKILL');
    await gw.exited;

    gw = await start();
    client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const resolved = await waitFor(
      async () => {
        const r = await client.responses.retrieve(queued.id);
        return r.status === 'in_progress' ? null : r;
      },
      { timeoutMs: 20_000 },
    );
    // What arrived before the kill is kept: incomplete, not failed.
    expect(resolved.status).toBe('incomplete');
    expect(resolved.output_text.length).toBeGreaterThan(0);
    const full = fakeAnswerFor({ messages: [{ role: 'user', content: input }] });
    expect(full.startsWith(resolved.output_text)).toBe(true);
    expect(resolved.output_text.length).toBeLessThan(full.length);

    const events = await resume(client, queued.id);
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events[events.length - 1].type).toBe(`response.${resolved.status}`);
    const tail = await resume(client, queued.id, 3);
    expect(tail.map((e) => e.sequence_number)).toEqual(
      events.slice(4).map((e) => e.sequence_number),
    );
    // The conversation was released: it continues.
    const next = await client.responses.create({
      model: 'fake',
      input: 'after the crash',
      previous_response_id: queued.id,
    });
    expect(next.status).toBe('completed');
  });
  it('leaves no run in progress after kill -9: done stays completed, cut is incomplete, silent is failed', async () => {
    gw?.kill('SIGKILL');
    await gw?.exited;
    gw = await start();
    let client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const arrived = () => up.received.filter((r) => r.url.endsWith('/chat/completions')).length;
    const create = async (input: string) => {
      const before = arrived();
      const r = await client.responses.create({ model: 'fake', input, background: true });
      await waitFor(async () => (arrived() > before ? true : null));
      return r.id;
    };
    // Finished before the crash: a whole answer at once.
    up.next({
      kind: 'raw',
      contentType: 'text/event-stream',
      body: [
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'fake-model', choices: [{ index: 0, delta: { role: 'assistant', content: 'All done.' }, finish_reason: null }] })}\n\n`,
        `data: ${JSON.stringify({ id: 'c', object: 'chat.completion.chunk', created: 1, model: 'fake-model', choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] })}\n\n`,
        'data: [DONE]\n\n',
      ].join(''),
    });
    const done = await create('finish before the crash');
    await waitFor(async () =>
      (await client.responses.retrieve(done)).status === 'completed' ? true : null,
    );
    // Silent: the upstream never answers.
    up.next({ kind: 'hang' });
    const silent = await create('the upstream never answers this one');
    // Cut: mid-answer when the process dies.
    const cut = await create('a long answer that the crash cuts somewhere in the middle');
    await sleep(1_500);
    gw.kill('SIGKILL');
    await gw.exited;

    gw = await start();
    client = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const statuses: Record<string, string> = {};
    for (const [name, id] of Object.entries({ done, silent, cut })) {
      const resolved = await waitFor(
        async () => {
          const r = await client.responses.retrieve(id);
          return r.status === 'queued' || r.status === 'in_progress' ? null : r;
        },
        { timeoutMs: 20_000 },
      );
      statuses[name] = resolved.status ?? 'none';
      const events = await resume(client, id);
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
      expect(events[events.length - 1].type).toBe(`response.${resolved.status}`);
    }
    expect(statuses).toEqual({ done: 'completed', silent: 'failed', cut: 'incomplete' });
    expect((await client.responses.retrieve(done)).output_text).toBe('All done.');
  });
});

describe('/v1/responses background across two instances', () => {
  let up: FakeUpstream;
  let a: TestGateway;
  let b: TestGateway;

  beforeAll(async () => {
    up = await startFakeUpstream({ chunkDelayMs: 80, streamChunks: 30 });
    const models = fakeModelCatalog(up.url);
    a = await startGateway({ models });
    b = await startGateway({ models, databaseUrl: a.databaseUrl });
  });
  afterAll(async () => {
    await b?.close();
    await a?.close();
    await up?.close();
  });

  it('is followed and cancelled through the other instance', async () => {
    const onA = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${a.url}/v1`, maxRetries: 0 });
    const onB = new OpenAI({ apiKey: TEST_API_KEY, baseURL: `${b.url}/v1`, maxRetries: 0 });
    const input = 'started on A, followed and cancelled on B';
    const queued = await onA.responses.create({ model: 'fake', input, background: true });

    // B follows A's run from the database while it generates.
    const followed = resume(onB, queued.id);
    await sleep(700);
    const cancelled = await onB.responses.cancel(queued.id);
    expect(cancelled.status).toBe('cancelled');
    const events = await followed;
    expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
    expect(events[events.length - 1].type).toBe('response.cancelled');
    const text = events
      .filter((e) => e.type === 'response.output_text.delta')
      .map((e) => e.delta)
      .join('');
    expect(text.length).toBeGreaterThan(0);
    expect(`You said: ${input}`.startsWith(text)).toBe(true);
    expect(text.length).toBeLessThan(`You said: ${input}`.length);
    // A stopped its upstream.
    expect(up.received[up.received.length - 1].hungUp).toBe(true);
    expect((await onA.responses.retrieve(queued.id)).status).toBe('cancelled');
  });
});

describe('/v1/responses background limits', () => {
  let up: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    up = await startFakeUpstream({ chunkDelayMs: 100, streamChunks: 10 });
    gw = await startGateway({
      models: fakeModelCatalog(up.url),
      env: { BACKGROUND_MAX_RUNS: '1' },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  it('refuses a background response beyond BACKGROUND_MAX_RUNS, storing nothing', async () => {
    const first = await gw.post('/v1/responses', {
      model: 'fake',
      input: 'one running',
      background: true,
    });
    expect(first.body.status).toBe('queued');
    const second = await gw.post('/v1/responses', {
      model: 'fake',
      input: 'one too many',
      background: true,
    });
    expect(second.status).toBe(503);
    expect(second.body.error.code).toBe('server_overloaded');
    expect(second.headers.get('retry-after')).toBe('5');
    expect(up.received.filter((r) => r.body?.messages?.[0]?.content === 'one too many')).toEqual(
      [],
    );
  });
});
