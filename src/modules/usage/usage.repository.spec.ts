import { DataSource } from 'typeorm';
import {
  MAX_DELTAS_PER_ADD,
  UsageDelta,
  UsageRepository,
} from 'src/modules/usage/usage.repository';
import { describeIfEnv } from 'test/support/describe-if-env';
import {
  openTestDatabase,
  RepositoryDatabase,
  testDatabaseUrl,
} from 'test/support/repository-database';

const delta = (d: Partial<UsageDelta>): UsageDelta => ({
  keyId: 'key-a',
  model: 'm1',
  day: '2026-11-22',
  promptTokens: 10,
  completionTokens: 5,
  requests: 1,
  ...d,
});

function repositorySuite(open: () => Promise<RepositoryDatabase>) {
  let db: RepositoryDatabase;
  let dataSource: DataSource;
  let repo: UsageRepository;

  beforeAll(async () => {
    db = await open();
    dataSource = db.dataSource;
    repo = new UsageRepository(dataSource);
  });
  afterAll(() => db.close());
  beforeEach(() => dataSource.getRepository('DailyUsageEntity').clear());

  it('matches the entities exactly after migrating (no schema drift)', async () => {
    const pending = await dataSource.driver.createSchemaBuilder().log();
    expect(pending.upQueries.map((q) => q.query)).toEqual([]);
  });

  it('adds to existing rows and creates missing ones', async () => {
    await repo.add([delta({}), delta({ model: 'm2', promptTokens: 1, completionTokens: 1 })]);
    await repo.add([delta({ promptTokens: 7, completionTokens: 3, requests: 2 })]);
    const rows = await repo.list({}, 10);
    expect(rows.map((r) => ({ ...r }))).toEqual([
      {
        keyId: 'key-a',
        model: 'm1',
        day: '2026-11-22',
        promptTokens: 17,
        completionTokens: 8,
        requests: 3,
      },
      {
        keyId: 'key-a',
        model: 'm2',
        day: '2026-11-22',
        promptTokens: 1,
        completionTokens: 1,
        requests: 1,
      },
    ]);
  });

  it('loses no update when writers add to the same row at the same time', async () => {
    await Promise.all(
      Array.from({ length: 20 }, () => repo.add([delta({ promptTokens: 3, completionTokens: 2 })])),
    );
    expect(await repo.totals({})).toEqual({ promptTokens: 60, completionTokens: 40, requests: 20 });
  });

  it('writes up to MAX_DELTAS_PER_ADD rows at once, all or nothing', async () => {
    const many = Array.from({ length: MAX_DELTAS_PER_ADD }, (_, i) => delta({ model: `m${i}` }));
    await repo.add(many);
    expect((await repo.totals({})).requests).toBe(MAX_DELTAS_PER_ADD);
    const broken = [delta({ model: 'm1' }), delta({ keyId: null as unknown as string })];
    await expect(repo.add(broken)).rejects.toThrow();
    expect((await repo.totals({})).requests).toBe(MAX_DELTAS_PER_ADD);
    await expect(repo.add([...many, delta({ model: 'one-too-many' })])).rejects.toThrow(
      /at most 1000/,
    );
  });

  it('filters by key, model and day range, newest day first, and sums the matches', async () => {
    await repo.add([
      delta({ day: '2026-10-31', promptTokens: 1, completionTokens: 0 }),
      delta({ day: '2026-11-01', promptTokens: 2, completionTokens: 0 }),
      delta({ day: '2026-11-30', promptTokens: 4, completionTokens: 0 }),
      delta({ day: '2026-11-30', model: 'm2', promptTokens: 8, completionTokens: 0 }),
      delta({ day: '2026-11-30', keyId: 'key-b', promptTokens: 16, completionTokens: 0 }),
    ]);
    const november = { keyId: 'key-a', from: '2026-11-01', to: '2026-11-30' };
    expect((await repo.list(november, 10)).map((r) => [r.day, r.model])).toEqual([
      ['2026-11-30', 'm1'],
      ['2026-11-30', 'm2'],
      ['2026-11-01', 'm1'],
    ]);
    expect(await repo.totals({ ...november, model: 'm1' })).toEqual({
      promptTokens: 6,
      completionTokens: 0,
      requests: 2,
    });
    expect(await repo.tokensUsed('key-a')).toBe(15);
    expect(await repo.tokensUsed('key-a', '2026-11-01', '2026-11-31')).toBe(14);
    expect(await repo.tokensUsed('nobody')).toBe(0);
    expect((await repo.list({}, 2)).length).toBe(2);
  });

  it('keeps counts beyond 32 bits', async () => {
    await repo.add([delta({ promptTokens: 3_000_000_000, completionTokens: 5_000_000_000 })]);
    await repo.add([delta({ promptTokens: 3_000_000_000, completionTokens: 0 })]);
    expect(await repo.tokensUsed('key-a')).toBe(11_000_000_000);
    expect((await repo.list({}, 1))[0].promptTokens).toBe(6_000_000_000);
  });
}

describe(`${UsageRepository.name} on SQLite`, () => {
  repositorySuite(() => openTestDatabase());
});

describeIfEnv('TEST_DATABASE_URL', `${UsageRepository.name} on PostgreSQL`, () => {
  repositorySuite(() => openTestDatabase(testDatabaseUrl()));
});
