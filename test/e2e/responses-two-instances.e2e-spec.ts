import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import OpenAI from 'openai';
import { describeIfEnv } from 'test/support/describe-if-env';
import { fakeModelCatalog, writeModelsFile } from 'test/support/fake-catalog';
import { fakeAnswerFor, FakeUpstream, startFakeUpstream } from 'test/support/fake-upstream';
import { spawnGateway, SpawnedGateway } from 'test/support/spawn-gateway';
import { TEST_ADMIN_TOKEN, TEST_API_KEY } from 'test/support/start-gateway';
import { createPostgresDatabase, TestDatabase } from 'test/support/test-database';
import { deleteRedisKeys, testRedisPrefix, testRedisUrl } from 'test/support/test-redis';
import { waitFor } from 'test/support/time';

/**
 * Issue #15's scale-out promise, on the deployment docs/notes/scaling.md describes: two gateway
 * processes on one PostgreSQL database and one Redis (a prefix of this run's own). A background
 * response started on A is followed, resumed and cancelled through B; A's upstream request is
 * the one that stops, and A answers what B's cancel stored. A run whose instance is killed -9
 * is resolved by a live one and its stream stays resumable. Rate limits are Redis's, so the
 * Responses routes of both instances draw on one bucket per key.
 */
describeIfEnv(
  ['TEST_DATABASE_URL', 'TEST_REDIS_URL'],
  '/v1/responses across two gateway processes sharing PostgreSQL and Redis',
  () => {
    const prefix = testRedisPrefix();
    const dir = mkdtempSync(join(tmpdir(), 'parley-responses-two-'));
    let db: TestDatabase;
    let up: FakeUpstream;
    let a: SpawnedGateway;
    let b: SpawnedGateway;
    let env: Record<string, string>;
    /** The third process the crash test kills; killed here too if the test stops early. */
    let doomed: SpawnedGateway | undefined;

    beforeAll(async () => {
      db = await createPostgresDatabase();
      // Slow enough that the run is still generating when B cancels it, on a loaded machine too.
      up = await startFakeUpstream({ chunkDelayMs: 100, streamChunks: 50 });
      env = {
        DATABASE_URL: db.url,
        REDIS_URL: testRedisUrl(),
        REDIS_KEY_PREFIX: prefix,
        MODELS_FILE: writeModelsFile(dir, fakeModelCatalog(up.url)),
        // Room for a slow reply on a loaded machine (see rate-limit-instances.e2e-spec.ts).
        REDIS_COMMAND_TIMEOUT_MS: '10000',
        // A crashed instance's runs are taken over by a live one after this long.
        BACKGROUND_STALE_SECS: '2',
      };
      [a, b] = await Promise.all(['a', 'b'].map(() => spawnGateway(env)));
    });
    afterAll(async () => {
      doomed?.kill('SIGKILL');
      for (const gw of [a, b]) {
        gw?.kill('SIGTERM');
        expect(await gw?.exited).toEqual({ code: 0, signal: null });
      }
      await up?.close();
      await db?.drop();
      await deleteRedisKeys(testRedisUrl(), prefix);
      rmSync(dir, { recursive: true, force: true });
    });

    const client = (gw: SpawnedGateway, apiKey = TEST_API_KEY) =>
      new OpenAI({ apiKey, baseURL: `${gw.url}/v1`, maxRetries: 0 });
    const deltas = (events: any[]) =>
      events
        .filter((e) => e.type === 'response.output_text.delta')
        .map((e) => e.delta as string)
        .join('');

    it('starts a background response on A; B resumes its stream and cancels it; A shows it cancelled', async () => {
      const onA = client(a);
      const onB = client(b);
      const input = 'started on A, then resumed and cancelled through B while it is still talking';
      const full = fakeAnswerFor({ messages: [{ role: 'user', content: input }] });

      const started = await onA.responses.create({ model: 'fake', input, background: true });
      expect(['queued', 'in_progress']).toContain(started.status);
      expect(started.background).toBe(true);

      // A first reader on B takes the opening events (two text deltas in), then leaves.
      const opening: any[] = [];
      const first = await onB.responses.retrieve(started.id, { stream: true });
      for await (const event of first) {
        opening.push(event);
        if (opening.filter((e) => e.type === 'response.output_text.delta').length === 2) {
          break;
        }
      }
      const n = opening[opening.length - 1].sequence_number as number;
      expect(opening.map((e) => e.sequence_number)).toEqual(opening.map((_, i) => i));

      // It comes back on B with starting_after=N and cancels once a few more deltas arrived.
      const resumed: any[] = [];
      let cancel: Promise<OpenAI.Responses.Response> | null = null;
      const rest = await onB.responses.retrieve(started.id, { stream: true, starting_after: n });
      for await (const event of rest) {
        resumed.push(event);
        if (!cancel && resumed.filter((e) => e.type === 'response.output_text.delta').length >= 3) {
          cancel = onB.responses.cancel(started.id);
        }
      }
      expect(cancel).not.toBeNull();
      const cancelled = await cancel!;
      expect(cancelled.status).toBe('cancelled');

      // No gap, no duplicate: the two reads together are 0, 1, 2… to the final event.
      const events = [...opening, ...resumed];
      expect(resumed[0].sequence_number).toBe(n + 1);
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
      expect(events[0].type).toBe('response.created');
      expect(events[events.length - 1].type).toBe('response.cancelled');

      // A's upstream request, not B's, is the one that stopped, before the answer was complete.
      const request = up.received[up.received.length - 1];
      expect(up.received.filter((r) => r.url.endsWith('/chat/completions'))).toHaveLength(1);
      await waitFor(() => (request.hungUp ? true : null), { what: 'upstream hang-up' });

      // What arrived is stored, and A (which ran it) answers the cancelled response with it.
      const text = deltas(events);
      expect(text.length).toBeGreaterThan(0);
      expect(text.length).toBeLessThan(full.length);
      expect(full.startsWith(text)).toBe(true);
      const onAfterwards = await onA.responses.retrieve(started.id);
      expect(onAfterwards.status).toBe('cancelled');
      expect(onAfterwards.output_text).toBe(text);
      expect(onAfterwards.output).toEqual(cancelled.output);
      expect(events[events.length - 1].response.output).toEqual(onAfterwards.output);
    });

    it('draws /v1/responses calls through A and B from one rate-limit bucket per key', async () => {
      const created = await fetch(`${a.url}/api/keys`, {
        method: 'POST',
        headers: {
          authorization: `Bearer ${TEST_ADMIN_TOKEN}`,
          'content-type': 'application/json',
        },
        body: JSON.stringify({
          name: 'limited',
          user_id: 'limited-user',
          rate_limit: { per_second: 0, burst: 3 },
        }),
      });
      expect(created.status).toBe(201);
      const key = ((await created.json()) as { key: string }).key;
      const post = (gw: SpawnedGateway) =>
        fetch(`${gw.url}/v1/responses`, {
          method: 'POST',
          headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
          body: JSON.stringify({ model: 'fake', input: 'hi', store: false }),
        });
      up.options.chunkDelayMs = 0;
      try {
        const answers = [];
        for (const gw of [a, b, a, b]) {
          const res = await post(gw);
          answers.push({
            status: res.status,
            remaining: res.headers.get('x-ratelimit-remaining'),
            code: ((await res.json()) as any).error?.code ?? null,
          });
        }
        expect(answers).toEqual([
          { status: 200, remaining: '2', code: null },
          { status: 200, remaining: '1', code: null },
          { status: 200, remaining: '0', code: null },
          { status: 429, remaining: '0', code: 'rate_limit_exceeded' },
        ]);
      } finally {
        up.options.chunkDelayMs = 100;
      }
      for (const gw of [a, b]) {
        expect(gw.output()).not.toContain('Redis unavailable');
      }
    });
    it('resolves on B a background run whose instance was killed -9, its stream resumable without gaps', async () => {
      const c = (doomed = await spawnGateway(env));
      const input = 'a long answer that a crash of the instance running it will cut short';
      const full = fakeAnswerFor({ messages: [{ role: 'user', content: input }] });
      const started = await client(c).responses.create({ model: 'fake', input, background: true });
      // B sees events stored by C, then C dies without a word.
      let seen = 0;
      for await (const event of await client(b).responses.retrieve(started.id, { stream: true })) {
        if (event.type === 'response.output_text.delta' && ++seen === 2) {
          break;
        }
      }
      c.kill('SIGKILL');
      expect(await c.exited).toEqual({ code: null, signal: 'SIGKILL' });

      const onB = client(b);
      const resolved = await waitFor(
        async () => {
          const r = await onB.responses.retrieve(started.id);
          return r.status === 'queued' || r.status === 'in_progress' ? null : r;
        },
        { timeoutMs: 20_000, intervalMs: 200, what: 'the killed run resolved by B' },
      );
      expect(resolved.status).toBe('incomplete');
      expect(resolved.output_text.length).toBeGreaterThan(0);
      expect(resolved.output_text.length).toBeLessThan(full.length);
      expect(full.startsWith(resolved.output_text)).toBe(true);

      const events: any[] = [];
      for await (const event of await onB.responses.retrieve(started.id, { stream: true })) {
        events.push(event);
      }
      expect(events.map((e) => e.sequence_number)).toEqual(events.map((_, i) => i));
      expect(events[events.length - 1].type).toBe('response.incomplete');
      expect(deltas(events)).toBe(resolved.output_text);
      const tail: any[] = [];
      const after = 3;
      for await (const event of await client(a).responses.retrieve(started.id, {
        stream: true,
        starting_after: after,
      })) {
        tail.push(event);
      }
      expect(tail).toEqual(events.slice(after + 1));

      // The conversation was released: A continues it.
      const next = await client(a).responses.create({
        model: 'fake',
        input: 'after the crash',
        previous_response_id: started.id,
      });
      expect(next.status).toBe('completed');
    });
  },
);
