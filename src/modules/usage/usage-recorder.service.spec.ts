import { AuthContext } from 'src/common/types/auth-context';
import { MetricsService } from 'src/modules/metrics/metrics.service';
import { QuotaService, QUOTA_REFRESH_MS } from 'src/modules/usage/quota.service';
import { UsageRecorder } from 'src/modules/usage/usage-recorder.service';
import { UsageRepository } from 'src/modules/usage/usage.repository';
import { openTestDatabase, RepositoryDatabase } from 'test/support/repository-database';

const key = (keyId: string): AuthContext => ({
  keyId,
  keyHash: `hash-${keyId}`,
  userId: 'u',
  role: 'user',
  allowedModels: null,
  rateLimit: null,
  tokenQuota: null,
});

const usage = (promptTokens: number, completionTokens: number) => ({
  promptTokens,
  completionTokens,
});

describe(UsageRecorder.name, () => {
  let db: RepositoryDatabase;
  let repository: UsageRepository;
  let now: number;
  let metrics: MetricsService;
  let recorder: UsageRecorder;

  beforeEach(async () => {
    db = await openTestDatabase();
    repository = new UsageRepository(db.dataSource);
    now = Date.UTC(2026, 10, 22, 12, 0, 0);
    metrics = new MetricsService();
    recorder = new UsageRecorder(repository, metrics, () => now);
  });
  afterEach(() => db.close());

  it('sums answers per key, model and day in memory and writes them in one statement', async () => {
    const add = jest.spyOn(repository, 'add');
    recorder.record(key('a'), 'm1', usage(10, 5));
    recorder.record(key('a'), 'm1', usage(7, 3));
    recorder.record(key('a'), 'm2', usage(1, 1));
    recorder.record(key('b'), 'm1', usage(100, 0));
    expect(add).not.toHaveBeenCalled();
    await recorder.flush();
    expect(add).toHaveBeenCalledTimes(1);
    const rows = await repository.list({}, 10);
    expect(
      rows.map((r) => [r.keyId, r.model, r.promptTokens, r.completionTokens, r.requests]),
    ).toEqual([
      ['a', 'm1', 17, 8, 2],
      ['a', 'm2', 1, 1, 1],
      ['b', 'm1', 100, 0, 1],
    ]);
    await recorder.flush();
    expect(add).toHaveBeenCalledTimes(1);
  });

  it('calls whenWritten callbacks only once the usage recorded before them is written', async () => {
    const written: string[] = [];
    recorder.record(key('a'), 'm1', usage(10, 5));
    recorder.whenWritten(() => written.push('first'));
    const add = jest.spyOn(repository, 'add').mockRejectedValueOnce(new Error('database down'));
    await recorder.flush();
    expect(add).toHaveBeenCalledTimes(1);
    expect(written).toEqual([]);
    recorder.record(key('a'), 'm1', usage(1, 1));
    recorder.whenWritten(() => written.push('second'));
    await recorder.flush();
    expect(written).toEqual(['first', 'second']);
    expect(await repository.tokensUsed('a')).toBe(17);
  });

  it('files usage under the UTC day it was recorded on', async () => {
    now = Date.UTC(2026, 10, 22, 23, 59, 59, 999);
    recorder.record(key('a'), 'm', usage(1, 0));
    now += 1;
    recorder.record(key('a'), 'm', usage(2, 0));
    await recorder.flush();
    expect((await repository.list({}, 10)).map((r) => [r.day, r.promptTokens])).toEqual([
      ['2026-11-23', 2],
      ['2026-11-22', 1],
    ]);
  });

  it('keeps a batch the database refused and writes it, once, with the next flush', async () => {
    const add = jest.spyOn(repository, 'add').mockRejectedValueOnce(new Error('database is away'));
    recorder.record(key('a'), 'm', usage(10, 5));
    await recorder.flush();
    expect(await repository.totals({})).toEqual({
      promptTokens: 0,
      completionTokens: 0,
      requests: 0,
    });
    recorder.record(key('a'), 'm', usage(1, 1));
    await recorder.flush();
    expect(add).toHaveBeenCalledTimes(2);
    expect(await repository.totals({})).toEqual({
      promptTokens: 11,
      completionTokens: 6,
      requests: 2,
    });
    expect((await metrics.databaseErrors.get()).values[0].value).toBe(1);
  });

  it('treats counts from the upstream as untrusted: no negatives, fractions or absurd values', async () => {
    recorder.record(key('a'), 'm', usage(Number.NaN, -5));
    recorder.record(key('a'), 'm', usage(2.7, 1e300));
    await recorder.flush();
    expect(await repository.totals({})).toEqual({
      promptTokens: 2,
      completionTokens: 1_000_000_000,
      requests: 2,
    });
  });

  it('writes everything still pending at shutdown, and anything recorded after it at once', async () => {
    recorder.onApplicationBootstrap();
    recorder.record(key('a'), 'm', usage(3, 4));
    await recorder.onApplicationShutdown();
    expect((await repository.totals({})).requests).toBe(1);
    recorder.record(key('a'), 'm', usage(1, 1));
    await recorder.flush();
    expect(await repository.totals({})).toEqual({
      promptTokens: 4,
      completionTokens: 5,
      requests: 2,
    });
  });

  it('writes on a one-second timer once the application has started', async () => {
    jest.useFakeTimers({ doNotFake: ['nextTick', 'setImmediate'] });
    try {
      recorder.onApplicationBootstrap();
      const add = jest.spyOn(repository, 'add');
      recorder.record(key('a'), 'm', usage(3, 4));
      await jest.advanceTimersByTimeAsync(999);
      expect(add).not.toHaveBeenCalled();
      await jest.advanceTimersByTimeAsync(1);
      expect(add).toHaveBeenCalledTimes(1);
    } finally {
      jest.useRealTimers();
      await recorder.onApplicationShutdown();
    }
  });
});

describe(QuotaService.name, () => {
  let db: RepositoryDatabase;
  let repository: UsageRepository;
  let now: number;
  let recorder: UsageRecorder;
  let quota: QuotaService;

  beforeEach(async () => {
    db = await openTestDatabase();
    repository = new UsageRepository(db.dataSource);
    now = Date.UTC(2026, 10, 22, 12, 0, 0);
    recorder = new UsageRecorder(repository, new MetricsService(), () => now);
    quota = new QuotaService(recorder, repository, () => now);
  });
  afterEach(() => db.close());

  it('counts written and pending usage exactly, then answers from memory', async () => {
    recorder.record(key('a'), 'm', usage(10, 5));
    await recorder.flush();
    recorder.record(key('a'), 'm', usage(1, 1));
    recorder.record(key('b'), 'm', usage(50, 50));
    expect(await quota.used('a', 'day')).toBe(17);
    const read = jest.spyOn(repository, 'tokensUsed');
    recorder.record(key('a'), 'm2', usage(3, 0));
    await recorder.flush();
    expect(quota.used('a', 'day')).toBe(20);
    expect(read).not.toHaveBeenCalled();
  });

  it('counts an answer recorded while the database is being read exactly once', async () => {
    recorder.record(key('a'), 'm', usage(10, 0));
    let release!: () => void;
    const gate = new Promise<void>((resolve) => (release = resolve));
    const read = repository.tokensUsed.bind(repository);
    jest.spyOn(repository, 'tokensUsed').mockImplementation(async (...args) => {
      const total = await read(...args);
      await gate;
      return total;
    });
    const loading = quota.used('a', 'total') as Promise<number>;
    await new Promise((r) => setImmediate(r));
    recorder.record(key('a'), 'm', usage(5, 0));
    const flushed = recorder.flush(); // waits for the read to end
    release();
    expect(await loading).toBe(15);
    await flushed;
    expect(quota.used('a', 'total')).toBe(15);
    expect(await repository.tokensUsed('a')).toBe(15);
  });

  it("picks up other instances' usage when its cached total is a couple of seconds old", async () => {
    expect(await quota.used('a', 'month')).toBe(0);
    await repository.add([
      {
        keyId: 'a',
        model: 'm',
        day: '2026-11-02',
        promptTokens: 40,
        completionTokens: 2,
        requests: 1,
      },
    ]);
    now += QUOTA_REFRESH_MS - 1;
    expect(quota.used('a', 'month')).toBe(0);
    now += 1;
    expect(quota.used('a', 'month')).toBe(0); // stale answer, refresh started
    await recorder.flush(); // queued behind the refresh
    expect(quota.used('a', 'month')).toBe(42);
  });

  it('starts each day and month over, and counts every day of the month', async () => {
    recorder.record(key('a'), 'm', usage(10, 0));
    expect(await quota.used('a', 'day')).toBe(10);
    expect(await quota.used('a', 'month')).toBe(10);
    now = Date.UTC(2026, 10, 23, 0, 0, 0);
    expect(await quota.used('a', 'day')).toBe(0);
    recorder.record(key('a'), 'm', usage(5, 0));
    expect(await quota.used('a', 'month')).toBe(15);
    expect(quota.used('a', 'day')).toBe(5);
    now = Date.UTC(2026, 11, 1, 0, 0, 0);
    expect(await quota.used('a', 'month')).toBe(0);
    expect(await quota.used('a', 'total')).toBe(15);
  });

  it('reads the database once for many concurrent first requests', async () => {
    const read = jest.spyOn(repository, 'tokensUsed');
    const totals = await Promise.all(
      Array.from({ length: 20 }, () => Promise.resolve(quota.used('a', 'day'))),
    );
    expect(totals).toEqual(Array(20).fill(0));
    expect(read).toHaveBeenCalledTimes(1);
  });
});
