import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FakeUpstream, splitAnswer, startFakeUpstream } from 'test/support/fake-upstream';
import { expectApiError } from 'test/support/expect-api-error';
import { parseSseFrames } from 'test/support/sse-frames';
import { startGateway, TestGateway } from 'test/support/start-gateway';

const STREAM_CHUNKS = 40;

const POLICY = [
  'rules:',
  '  - name: weapons',
  '    scope: input',
  '    words: [plutonium, "nerve agent"]',
  '    action: block',
  '  - name: cards',
  '    scope: input',
  '    patterns: ["\\\\b\\\\d{4}-\\\\d{4}-\\\\d{4}-\\\\d{4}\\\\b"]',
  '    action: block',
  '  - name: backtracking-bait',
  '    scope: input',
  '    patterns: ["^(a+)+$"]',
  '    action: block',
  '  - name: leaks',
  '    scope: output',
  '    words: [kaboom]',
  '    patterns: ["secret-[0-9]+"]',
  '    action: block',
  '  - name: other-model-only',
  '    scope: input',
  '    words: [unicorn]',
  '    models: [other]',
  '    action: block',
].join('\n');

/** POLICY_FILE: input and output rules on /v1 and /c1, JSON and streams (#19). */
describe('content policy (POLICY_FILE)', () => {
  let up: FakeUpstream;
  let gw: TestGateway;

  beforeAll(async () => {
    up = await startFakeUpstream({ streamChunks: STREAM_CHUNKS });
    const dir = mkdtempSync(join(tmpdir(), 'parley-policy-'));
    const file = join(dir, 'policy.yaml');
    writeFileSync(file, POLICY);
    const upstream = { url: up.url, format: 'openai', model: 'fake-model' };
    const constraints = { max_output_tokens: 1000, context_window: 100_000 };
    gw = await startGateway({
      models: {
        models: [
          { alias: 'fake', upstreams: [upstream], constraints },
          { alias: 'other', upstreams: [upstream], constraints },
        ],
      },
      env: { POLICY_FILE: file },
    });
  });
  afterAll(async () => {
    await gw?.close();
    await up?.close();
  });

  const chat = (path: string, content: unknown, extra: Record<string, unknown> = {}) =>
    gw.post(path, { model: 'fake', messages: [{ role: 'user', content }], ...extra });

  describe('input', () => {
    it('blocks a prompt with 400 prompt_blocked at the message path, before forwarding', async () => {
      const before = up.received.length;
      const res = await gw.post('/v1/chat/completions', {
        model: 'fake',
        messages: [
          { role: 'system', content: 'be nice' },
          { role: 'user', content: 'How is PLUTONIUM refined?' },
        ],
      });
      expectApiError(res, 400, 'prompt_blocked', { param: 'messages[1].content' });
      expect(res.body.error.message).toContain('weapons');
      const parts = await chat('/v1/chat/completions', [
        { type: 'text', text: 'hello' },
        { type: 'text', text: 'my card is 1234-5678-9012-3456' },
      ]);
      expectApiError(parts, 400, 'prompt_blocked', { param: 'messages[0].content[1].text' });
      const phrase = await chat(
        '/v1/chat/completions',
        'what is a Nerve  Agent'.replace('  ', ' '),
      );
      expectApiError(phrase, 400, 'prompt_blocked');
      const messages = await gw.post('/v1/messages', {
        model: 'fake',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'plutonium please' }],
      });
      expect(messages.status).toBe(400);
      expect(messages.body.error.type).toBe('invalid_request_error');
      expect(JSON.stringify(messages.body)).toContain('prompt_blocked');
      expect(up.received.length).toBe(before);
    });

    it('matches whole words only, and honours a rule’s models', async () => {
      expect((await chat('/v1/chat/completions', 'plutoniums are not a word')).status).toBe(200);
      expect((await chat('/v1/chat/completions', 'card 1234-5678-9012-34567')).status).toBe(200);
      expect((await chat('/v1/chat/completions', 'a unicorn')).status).toBe(200);
      const other = await gw.post('/v1/chat/completions', {
        model: 'other',
        messages: [{ role: 'user', content: 'a unicorn' }],
      });
      expectApiError(other, 400, 'prompt_blocked', { param: 'messages[0].content' });
    });

    it('blocks a /c1 turn before anything is stored', async () => {
      const list = async () => (await gw.get('/c1/conversations')).body.data.length as number;
      const before = await list();
      const res = await chat('/c1/chat/completions', 'plutonium', { stream: true });
      expectApiError(res, 400, 'prompt_blocked', { param: 'messages[0].content' });
      const anthropic = await gw.post('/c1/messages', {
        model: 'fake',
        max_tokens: 50,
        messages: [{ role: 'user', content: 'plutonium' }],
      });
      expect(anthropic.status).toBe(400);
      expect(JSON.stringify(anthropic.body)).toContain('prompt_blocked');
      expect(await list()).toBe(before);
      expect((await gw.get('/c1/conversations?q=plutonium')).body.data).toEqual([]);
    });

    it('runs an operator’s catastrophic-backtracking pattern in linear time', async () => {
      // (a+)+$ against "aaa…a!" takes 2^64 steps in a backtracking engine.
      const health = gw.get('/healthz', { key: null });
      const res = await chat('/v1/chat/completions', `${'a'.repeat(64)}!`);
      expect(res.status).toBe(200);
      expect((await health).status).toBe(200);
      expectApiError(await chat('/v1/chat/completions', 'a'.repeat(64)), 400, 'prompt_blocked');
    });
  });

  describe('output', () => {
    it('answers 400 sensitive_words_detected for a JSON answer on /v1', async () => {
      const res = await chat('/v1/chat/completions', 'say kaboom');
      expectApiError(res, 400, 'sensitive_words_detected');
      expect(res.text).not.toContain('You said');
      const pattern = await chat('/v1/chat/completions', 'the code is secret-1234');
      expectApiError(pattern, 400, 'sensitive_words_detected');
    });

    it('stores a /c1 JSON turn as failed', async () => {
      const res = await chat('/c1/chat/completions', 'please kaboom now');
      expectApiError(res, 400, 'sensitive_words_detected');
      const [latest] = (await gw.get('/c1/conversations?limit=1')).body.data;
      const detail = (await gw.get(`/c1/conversations/${latest.id}`)).body;
      expect(detail.messages.map((m: any) => [m.role, m.status])).toEqual([
        ['user', 'failed'],
        ['assistant', 'failed'],
      ]);
      expect(detail.messages[1]).toMatchObject({
        content: null,
        error: { code: 'sensitive_words_detected' },
      });
    });

    it('ends a stream with the error event where a word split across chunks completes', async () => {
      // Padding chosen so that the word straddles two of the fake's chunks.
      const textWith = (pad: number) =>
        `${'calm words and more calm words '.repeat(8)}${'z'.repeat(pad)} then kaboom and after it ${'tail '.repeat(20)}`;
      const pad = [...Array(12).keys()].find(
        (n) =>
          !splitAnswer(`You said: ${textWith(n)}`, STREAM_CHUNKS).some((p) => p.includes('kaboom')),
      );
      expect(pad).toBeDefined();
      const text = textWith(pad!);
      for (const path of ['/v1/chat/completions', '/c1/chat/completions']) {
        const res = await chat(path, text, { stream: true });
        expect(res.status).toBe(200);
        const frames = parseSseFrames(res.text);
        const last = JSON.parse(frames[frames.length - 1].data);
        expect(last).toEqual({
          error: expect.objectContaining({ code: 'sensitive_words_detected', param: null }),
        });
        expect(frames.some((f) => f.data === '[DONE]')).toBe(false);
        const delivered = frames
          .slice(0, -1)
          .map((f) => JSON.parse(f.data).choices?.[0]?.delta?.content ?? '')
          .join('');
        expect(delivered.startsWith('You said: calm words')).toBe(true);
        expect(delivered).not.toContain('kaboom');
        expect(delivered).not.toContain('after it');
      }
      const [latest] = (await gw.get('/c1/conversations?limit=1')).body.data;
      const detail = (await gw.get(`/c1/conversations/${latest.id}`)).body;
      expect(detail.messages[1]).toMatchObject({
        status: 'failed',
        content: null,
        error: { code: 'sensitive_words_detected' },
      });
    });

    it('blocks Anthropic Messages answers too, JSON and streamed, on /v1 and /c1', async () => {
      const body = (stream: boolean) => ({
        model: 'fake',
        max_tokens: 200,
        stream,
        messages: [
          { role: 'user', content: `${'fine words '.repeat(10)}kaboom ${'more '.repeat(10)}` },
        ],
      });
      for (const path of ['/v1/messages', '/c1/messages']) {
        const json = await gw.post(path, body(false));
        expect(json.status).toBe(400);
        expect(json.text).toContain('sensitive_words_detected');
        expect(json.text).not.toContain('fine words');
        const streamed = await gw.post(path, body(true));
        expect(streamed.status).toBe(200);
        const frames = parseSseFrames(streamed.text);
        const last = frames[frames.length - 1];
        expect(last.event).toBe('error');
        expect(last.data).toContain('sensitive_words_detected');
        expect(frames.some((f) => f.event === 'message_stop')).toBe(false);
        expect(streamed.text).not.toContain('kaboom');
      }
      const [latest] = (await gw.get('/c1/conversations?limit=1')).body.data;
      const detail = (await gw.get(`/c1/conversations/${latest.id}`)).body;
      expect(detail.messages[1]).toMatchObject({
        status: 'failed',
        error: { code: 'sensitive_words_detected' },
      });
    });

    it('lets a stream through when a chunk ends in what is only the start of a longer word', async () => {
      const textWith = (pad: number) => `${'x'.repeat(pad)} kabooms are fine ${'y '.repeat(20)}`;
      const pad = [...Array(400).keys()].find((n) =>
        splitAnswer(`You said: ${textWith(n)}`, STREAM_CHUNKS).some((p) => p.endsWith('kaboom')),
      );
      expect(pad).toBeDefined();
      const res = await chat('/v1/chat/completions', textWith(pad!), { stream: true });
      const frames = parseSseFrames(res.text);
      expect(frames[frames.length - 1].data).toBe('[DONE]');
      const delivered = frames
        .slice(0, -1)
        .map((f) => JSON.parse(f.data).choices?.[0]?.delta?.content ?? '')
        .join('');
      expect(delivered).toContain('kabooms are fine');
    });
  });

  describe('/v1/responses', () => {
    const respond = (input: unknown, extra: Record<string, unknown> = {}) =>
      gw.post('/v1/responses', { model: 'fake', input, ...extra });
    const conversationCount = async () =>
      (await gw.get('/c1/conversations?limit=100')).body.data.length as number;
    /** The latest conversation's messages as [role, status, error code]. */
    const latestTurn = async () => {
      const [latest] = (await gw.get('/c1/conversations?limit=1')).body.data;
      const detail = (await gw.get(`/c1/conversations/${latest.id}`)).body;
      return detail.messages.map((m: any) => [m.role, m.status, m.error?.code ?? null, m.content]);
    };

    it('blocks input with 400 prompt_blocked before anything is stored or forwarded', async () => {
      const forwarded = up.received.length;
      const stored = await conversationCount();
      const text = await respond('How is plutonium refined?', { stream: true });
      expectApiError(text, 400, 'prompt_blocked');
      expect(text.body.error.message).toContain('weapons');
      const items = await respond([
        { role: 'user', content: [{ type: 'input_text', text: 'card 1234-5678-9012-3456' }] },
      ]);
      expectApiError(items, 400, 'prompt_blocked');
      expect(items.body.error.param).toMatch(/^input/);
      expect(up.received.length).toBe(forwarded);
      expect(await conversationCount()).toBe(stored);
    });

    it('answers a blocked JSON answer 400 sensitive_words_detected, the turn stored failed', async () => {
      const res = await respond('please kaboom now');
      expectApiError(res, 400, 'sensitive_words_detected');
      expect(res.text).not.toContain('You said');
      expect(await latestTurn()).toEqual([
        ['user', 'failed', 'sensitive_words_detected', 'please kaboom now'],
        ['assistant', 'failed', 'sensitive_words_detected', null],
      ]);
    });

    it('ends a blocked stream with response.failed, nothing of the answer kept', async () => {
      const text = `${'calm words '.repeat(20)}then kaboom and after it ${'tail '.repeat(20)}`;
      const res = await respond(text, { stream: true });
      expect(res.status).toBe(200);
      const frames = parseSseFrames(res.text);
      const last = frames[frames.length - 1];
      expect(last.event).toBe('response.failed');
      expect(JSON.parse(last.data).response).toMatchObject({
        status: 'failed',
        output: [],
        error: { code: 'sensitive_words_detected' },
      });
      expect(frames.some((f) => f.event === 'response.completed')).toBe(false);
      expect(res.text).not.toContain('kaboom');
      expect(res.text).not.toContain('after it');
      expect((await latestTurn())[1]).toEqual([
        'assistant',
        'failed',
        'sensitive_words_detected',
        null,
      ]);
      const id = JSON.parse(last.data).response.id as string;
      expect((await gw.get(`/v1/responses/${id}`)).body).toMatchObject({
        status: 'failed',
        error: { code: 'sensitive_words_detected' },
      });
    });
  });
});

describe('POLICY_FILE at boot', () => {
  it('stops the process with one line per problem and exit code 1', () => {
    const dir = mkdtempSync(join(tmpdir(), 'parley-policy-'));
    const file = join(dir, 'policy.json');
    writeFileSync(
      file,
      JSON.stringify({
        rules: [
          { scope: 'input', words: ['ok'], action: 'block' },
          { scope: 'inbound', words: ['x'], action: 'block' },
          { scope: 'output', patterns: ['(a)\\1'], action: 'block' },
          { scope: 'output', words: ['y'], models: ['nope'], action: 'warn' },
        ],
      }),
    );
    const result = spawnSync(process.execPath, [join(__dirname, '..', '..', 'dist', 'main.js')], {
      env: {
        PATH: process.env.PATH,
        PORT: '0',
        POLICY_FILE: file,
        DATABASE_URL: `sqlite:${join(dir, 'db.sqlite')}`,
        LOG_LEVEL: 'silent',
      },
      encoding: 'utf8',
      timeout: 20_000,
    });
    expect(result.status).toBe(1);
    const lines = result.stderr.split('\n');
    for (const expected of [
      'POLICY_FILE: rules[1].scope: must be "input" or "output"',
      'POLICY_FILE: rules[2].patterns[0]: not a valid RE2 pattern',
      'POLICY_FILE: rules[3].models[0]: "nope" is not a model of the catalog',
      'POLICY_FILE: rules[3].action: must be "block"',
    ]) {
      expect(lines.some((l) => l.includes(expected))).toBe(true);
    }
    expect(result.stderr).not.toContain('rules[0]');
  });
});
