import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fakeModelCatalog, writeModelsFile } from 'test/support/fake-catalog';
import { FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { openRawClient, statusCodes } from 'test/support/raw-client';
import { spawnGateway, SpawnedGateway } from 'test/support/spawn-gateway';
import { parseSseJson } from 'test/support/sse-frames';
import { TEST_API_KEY } from 'test/support/start-gateway';
import { createTestDatabase, TestDatabase } from 'test/support/test-database';
import { sleep } from 'test/support/time';

/** A POST whose body is incomplete: in flight until `finish` is written. */
const HELD_POST =
  'POST /errors HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 7\r\n\r\n{"a":';

describe('SIGTERM on a real gateway process', () => {
  let dir: string;
  let gw: SpawnedGateway | undefined;
  beforeEach(() => {
    dir = mkdtempSync(join(tmpdir(), 'parley-shutdown-'));
  });
  afterEach(() => {
    if (gw && gw.child.exitCode === null) {
      gw.kill('SIGKILL');
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('stops accepting, lets in-flight requests finish, cuts the rest at the grace period, exits 0', async () => {
    const graceMs = 4_000;
    gw = await spawnGateway({
      DATABASE_URL: `sqlite:${join(dir, 'parley.sqlite')}`,
      SHUTDOWN_GRACE_SECS: String(graceMs / 1000),
      // The stuck request below sends nothing for the whole grace period.
      MIN_BODY_BYTES_PER_SEC: '0',
    });
    const finishing = await openRawClient(gw.port);
    const stuck = await openRawClient(gw.port);
    await finishing.write(HELD_POST);
    await stuck.write(HELD_POST);
    await sleep(200);

    const signalledAt = Date.now();
    gw.kill('SIGTERM');
    await sleep(300);
    // The listener is closed: a new connection is refused.
    await expect(fetch(`${gw.url}/healthz`)).rejects.toThrow();
    expect(gw.child.exitCode).toBeNull();

    // A request in flight completes normally after the signal.
    await finishing.write('1}');
    await finishing.waitFor(/"code":"route_not_found"/);
    expect(finishing.received()).toMatch(/^HTTP\/1\.1 404 /);

    // One that never completes is cut when the grace period ends, and the process exits 0.
    const exit = await gw.exited;
    const exitedAfter = Date.now() - signalledAt;
    expect(exit).toEqual({ code: 0, signal: null });
    const stuckClosedAfter = (await stuck.closed) - signalledAt;
    expect(stuckClosedAfter).toBeGreaterThanOrEqual(graceMs - 300);
    expect(exitedAfter).toBeLessThan(graceMs + 2_000);
    expect(stuck.received()).toBe('');

    const output = gw.output();
    expect(output).toContain('"msg":"shutdown: draining"');
    expect(output).toContain('"msg":"shutdown: closing the connections still open"');
    expect(output).toContain('"msg":"shutdown complete"');
  });

  it('exits 0 at once when nothing is in flight', async () => {
    gw = await spawnGateway({ DATABASE_URL: `sqlite:${join(dir, 'parley.sqlite')}` });
    expect((await fetch(`${gw.url}/healthz`)).status).toBe(200);
    const signalledAt = Date.now();
    gw.kill('SIGINT');
    expect(await gw.exited).toEqual({ code: 0, signal: null });
    // "At once" against the 30 s default grace period: generous for a loaded machine.
    expect(Date.now() - signalledAt).toBeLessThan(10_000);
  });
});

/** What a client received from one request sent before the signal. */
interface Received {
  status: number;
  text: string;
  conversationId: string | null;
}

/** A chat request to a spawned gateway, read to its end (or to the connection's end). */
async function send(url: string, path: string, body: object, conversationId?: string) {
  const res = await fetch(`${url}${path}`, {
    method: 'POST',
    headers: {
      authorization: `Bearer ${TEST_API_KEY}`,
      'content-type': 'application/json',
      ...(conversationId ? { 'x-conversation-id': conversationId } : {}),
    },
    body: JSON.stringify(body),
  });
  let text = '';
  try {
    text = await res.text();
  } catch {
    // The connection was cut mid-body: keep what the status says, the text stays empty.
  }
  return {
    status: res.status,
    text,
    conversationId: res.headers.get('x-conversation-id'),
  } satisfies Received;
}

/** The text content of an OpenAI-style stream, and its payloads. */
function streamed(text: string): { content: string; events: any[] } {
  const events = parseSseJson(text) as any[];
  const content = events.map((e) => e.choices?.[0]?.delta?.content ?? '').join('');
  return { content, events };
}

async function waitUntil(condition: () => boolean, what: string, timeoutMs = 10_000) {
  const deadline = Date.now() + timeoutMs;
  while (!condition()) {
    if (Date.now() > deadline) {
      throw new Error(`timed out waiting for ${what}`);
    }
    await sleep(20);
  }
}

/**
 * SIGTERM with real traffic in flight against a slow upstream: /v1 streams and /c1 turns
 * (streamed and JSON). Runs on the suite's engine (SQLite file, or PostgreSQL in the
 * e2e-postgres project); the stored turns are read back through a gateway restarted on the
 * same database.
 */
describe('SIGTERM with /v1 streams and /c1 turns in flight', () => {
  let dir: string;
  let db: TestDatabase;
  let up: FakeUpstream;
  let gw: SpawnedGateway | undefined;

  const start = (graceSecs: number) =>
    spawnGateway({
      DATABASE_URL: db.url,
      MODELS_FILE: join(dir, 'models.json'),
      SHUTDOWN_GRACE_SECS: String(graceSecs),
    });

  async function setUp(options: Parameters<typeof startFakeUpstream>[0]) {
    dir = mkdtempSync(join(tmpdir(), 'parley-shutdown-traffic-'));
    db = await createTestDatabase(dir);
    up = await startFakeUpstream(options);
    writeModelsFile(dir, fakeModelCatalog(up.url, { alias: 'slow' }));
  }

  afterEach(async () => {
    if (gw && gw.child.exitCode === null) {
      gw.kill('SIGKILL');
      await gw.exited;
    }
    gw = undefined;
    await up?.close();
    await db?.drop();
    rmSync(dir, { recursive: true, force: true });
  });

  /**
   * Every conversation as a gateway restarted on the same database reads it, by the text of
   * its first message: role, status, content (and error code) of each message.
   */
  async function storedConversations(): Promise<Record<string, unknown[]>> {
    gw = await start(5);
    const get = async (path: string) => {
      const res = await fetch(`${gw!.url}${path}`, {
        headers: { authorization: `Bearer ${TEST_API_KEY}` },
      });
      expect(res.status).toBe(200);
      return (await res.json()) as any;
    };
    const byFirstMessage: Record<string, unknown[]> = {};
    try {
      const list = await get('/c1/conversations');
      for (const { id } of list.data) {
        const detail = await get(`/c1/conversations/${id}`);
        byFirstMessage[detail.messages[0].content] = detail.messages.map((m: any) => ({
          role: m.role,
          status: m.status,
          content: m.content,
          ...(m.error ? { error: m.error.code } : {}),
        }));
      }
    } finally {
      gw.kill('SIGTERM');
      await gw.exited;
    }
    return byFirstMessage;
  }

  /**
   * Starts two /v1 streams, a streamed /c1 turn and a JSON /c1 turn, and resolves once the
   * upstream has all four. `hangJson`: the upstream never answers the JSON turn.
   */
  async function startTraffic(url: string, hangJson = false) {
    const chat = (text: string, stream: boolean) => ({
      model: 'slow',
      stream,
      messages: [{ role: 'user', content: text }],
    });
    const streams = {
      v1StreamA: send(url, '/v1/chat/completions', chat('first v1 stream, please', true)),
      v1StreamB: send(url, '/v1/chat/completions', chat('second v1 stream, please', true)),
      c1Stream: send(url, '/c1/chat/completions', chat('a streamed c1 turn', true)),
    };
    await waitUntil(() => up.received.length === 3, 'the three streams upstream');
    if (hangJson) {
      up.next({ kind: 'hang' });
    }
    const c1Json = send(url, '/c1/chat/completions', chat('a json c1 turn', false));
    await waitUntil(() => up.received.length === 4, 'the JSON turn upstream');
    return Promise.all([streams.v1StreamA, streams.v1StreamB, streams.c1Stream, c1Json]);
  }

  it('lets them finish with their full content, stores the turns, refuses new work, exits 0 within the grace', async () => {
    // Each stream takes ~0.6 s to start and ~2 s to finish; the JSON turn answers after 0.6 s.
    await setUp({ firstByteDelayMs: 600, chunkDelayMs: 150, streamChunks: 12 });
    const graceMs = 10_000;
    gw = await start(graceMs / 1000);
    const port = gw.port;
    // A request whose body is incomplete: in flight over the signal, on a kept-alive connection.
    const pipelined = await openRawClient(port);
    await pipelined.write(HELD_POST);
    let settled = false;
    const work = startTraffic(gw.url);
    void work.then(() => (settled = true));
    await waitUntil(() => up.received.length === 4, 'the four requests upstream');
    expect(settled).toBe(false);

    const signalledAt = Date.now();
    gw.kill('SIGTERM');
    await sleep(300);
    // New connections are refused (the listener is closed)...
    await expect(fetch(`${gw.url}/healthz`)).rejects.toThrow();
    // ...and a new request on a connection that was already open gets 503 server_overloaded.
    await pipelined.write(
      '1}POST /v1/chat/completions HTTP/1.1\r\nhost: x\r\ncontent-length: 2\r\n\r\n{}',
    );
    await pipelined.closed;
    const raw = pipelined.received();
    expect(statusCodes(raw)).toEqual([404, 503]);
    const refusal = raw.slice(raw.lastIndexOf('HTTP/1.1 503'));
    expect(refusal).toMatch(/\r\nretry-after: 1\r\n/i);
    expect(refusal).toContain('"code":"server_overloaded"');

    const [v1StreamA, v1StreamB, c1Stream, c1Json] = await work;
    const exit = await gw.exited;
    const exitedAfter = Date.now() - signalledAt;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitedAfter).toBeLessThan(graceMs);
    // The streams ran past the signal: the shutdown really waited for them.
    expect(exitedAfter).toBeGreaterThan(1_000);

    for (const [res, text] of [
      [v1StreamA, 'first v1 stream, please'],
      [v1StreamB, 'second v1 stream, please'],
      [c1Stream, 'a streamed c1 turn'],
    ] as const) {
      expect(res.status).toBe(200);
      const { content, events } = streamed(res.text);
      expect(content).toBe(`You said: ${text}`);
      expect(events.at(-1).choices[0].finish_reason).toBe('stop');
      expect(res.text.trimEnd().endsWith('data: [DONE]')).toBe(true);
      expect(res.text).not.toContain('"error"');
    }
    expect(c1Json.status).toBe(200);
    expect(JSON.parse(c1Json.text).choices[0].message.content).toBe('You said: a json c1 turn');
    expect(gw.output()).toContain('"msg":"shutdown complete"');
    expect(gw.output()).not.toContain('grace period over');

    // Restarted on the same database: both turns are stored, completed, with their answers.
    expect(c1Stream.conversationId).toBeTruthy();
    expect(await storedConversations()).toEqual({
      'a streamed c1 turn': [
        { role: 'user', status: 'completed', content: 'a streamed c1 turn' },
        { role: 'assistant', status: 'completed', content: 'You said: a streamed c1 turn' },
      ],
      'a json c1 turn': [
        { role: 'user', status: 'completed', content: 'a json c1 turn' },
        { role: 'assistant', status: 'completed', content: 'You said: a json c1 turn' },
      ],
    });
  }, 60_000);

  it('ends work longer than the grace with a final error event, stores the partial turns, exits 0', async () => {
    // ~10 s streams, far longer than the 3 s grace (cut at 3 s minus a 0.75 s reserve).
    await setUp({ firstByteDelayMs: 100, chunkDelayMs: 400, streamChunks: 25 });
    const graceMs = 3_000;
    gw = await start(graceMs / 1000);
    const work = startTraffic(gw.url, true);
    await waitUntil(() => up.received.length === 4, 'the four requests upstream');
    await sleep(700);

    const signalledAt = Date.now();
    gw.kill('SIGTERM');
    const [v1StreamA, v1StreamB, c1Stream, c1Json] = await work;
    const exit = await gw.exited;
    const exitedAfter = Date.now() - signalledAt;
    expect(exit).toEqual({ code: 0, signal: null });
    expect(exitedAfter).toBeLessThan(graceMs + 1_000);
    expect(exitedAfter).toBeGreaterThan(graceMs / 2);

    // Every stream got part of its answer, then one final server_overloaded error event.
    const partial: Record<string, string> = {};
    for (const [name, res, text] of [
      ['v1StreamA', v1StreamA, 'first v1 stream, please'],
      ['v1StreamB', v1StreamB, 'second v1 stream, please'],
      ['c1Stream', c1Stream, 'a streamed c1 turn'],
    ] as const) {
      expect(res.status).toBe(200);
      const { content, events } = streamed(res.text);
      expect(content.length).toBeGreaterThan(0);
      expect(`You said: ${text}`.startsWith(content)).toBe(true);
      expect(content).not.toBe(`You said: ${text}`);
      expect(events.at(-1)).toEqual({
        error: expect.objectContaining({ code: 'server_overloaded', type: 'upstream_error' }),
      });
      expect(events.filter((e) => e.error)).toHaveLength(1);
      partial[name] = content;
    }
    for (const record of up.received) {
      expect(record.hungUp).toBe(true);
    }
    const output = gw.output();
    expect(output).toContain('"msg":"shutdown: grace period over, cutting tracked work"');
    expect(output).toContain('"msg":"shutdown complete"');

    // The JSON turn, still waiting for its upstream, is answered 503 server_overloaded.
    expect(c1Json.status).toBe(503);
    expect(JSON.parse(c1Json.text).error).toMatchObject({
      code: 'server_overloaded',
      message: expect.stringContaining('shutting down'),
    });

    // The streamed turn keeps what arrived, marked incomplete (the user turn counts as
    // answered); the JSON turn, which had received nothing, is stored failed with the code.
    expect(await storedConversations()).toEqual({
      'a streamed c1 turn': [
        { role: 'user', status: 'completed', content: 'a streamed c1 turn' },
        { role: 'assistant', status: 'incomplete', content: partial.c1Stream },
      ],
      'a json c1 turn': [
        { role: 'user', status: 'failed', content: 'a json c1 turn', error: 'server_overloaded' },
        { role: 'assistant', status: 'failed', content: null, error: 'server_overloaded' },
      ],
    });
  }, 60_000);
});
