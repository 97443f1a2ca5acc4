import { PeriodicTask } from 'src/common/time/periodic-task';

/** A run that ends when the test says so. */
function gate() {
  let open!: () => void;
  const opened = new Promise<void>((resolve) => (open = resolve));
  return { opened, open };
}

describe(PeriodicTask.name, () => {
  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('runs every interval once started, and not before', async () => {
    const runs: number[] = [];
    const task = new PeriodicTask(() => runs.push(performance.now()), {
      everyMs: 1_000,
      onError: () => undefined,
    });
    await jest.advanceTimersByTimeAsync(5_000);
    expect(runs).toHaveLength(0);

    task.start();
    await jest.advanceTimersByTimeAsync(3_000);
    expect(runs).toHaveLength(3);
    await task.stop();
  });

  it('runs at once with runNow, and start is idempotent', async () => {
    let runs = 0;
    const task = new PeriodicTask(() => runs++, { everyMs: 1_000, onError: () => undefined });
    task.start({ runNow: true });
    task.start({ runNow: true });
    await jest.advanceTimersByTimeAsync(0);
    expect(runs).toBe(1);
    await task.stop();
  });

  it('never overlaps runs: a slow run delays the next one', async () => {
    let active = 0;
    let maxActive = 0;
    let runs = 0;
    const slow = gate();
    const task = new PeriodicTask(
      async () => {
        runs++;
        active++;
        maxActive = Math.max(maxActive, active);
        if (runs === 1) {
          await slow.opened;
        }
        active--;
      },
      { everyMs: 100, onError: () => undefined },
    );
    task.start({ runNow: true });
    await jest.advanceTimersByTimeAsync(1_000);
    expect(runs).toBe(1);

    slow.open();
    // The first run overran its interval: the second starts at once, then the pace resumes.
    await jest.advanceTimersByTimeAsync(250);
    expect(runs).toBe(4);
    expect(maxActive).toBe(1);
    await task.stop();
  });

  it('keeps going after a failure and reports it', async () => {
    const failures: { failures: number; retryInMs: number }[] = [];
    let runs = 0;
    const task = new PeriodicTask(
      () => {
        runs++;
        throw new Error('database away');
      },
      { everyMs: 1_000, onError: (_error, retry) => failures.push(retry) },
    );
    task.start();
    await jest.advanceTimersByTimeAsync(3_000);
    expect(runs).toBe(3);
    expect(failures).toEqual([
      { failures: 1, retryInMs: 1_000 },
      { failures: 2, retryInMs: 1_000 },
      { failures: 3, retryInMs: 1_000 },
    ]);
    await task.stop();
  });

  it('backs off exponentially after failures up to the maximum, and resets on success', async () => {
    const retries: number[] = [];
    let isDown = true;
    const task = new PeriodicTask(
      () => {
        if (isDown) {
          throw new Error('gateway unreachable');
        }
      },
      {
        everyMs: 1_000,
        backoffMaxMs: 5_000,
        onError: (_e, { retryInMs }) => retries.push(retryInMs),
      },
    );
    task.start({ runNow: true });
    // Runs at 0, 2 s, 6 s, 11 s, 16 s.
    await jest.advanceTimersByTimeAsync(16_000);
    expect(retries).toEqual([2_000, 4_000, 5_000, 5_000, 5_000]);

    isDown = false;
    await jest.advanceTimersByTimeAsync(5_000);
    isDown = true;
    await jest.advanceTimersByTimeAsync(1_000);
    expect(retries.at(-1)).toBe(2_000);
    await task.stop();
  });

  it('stop waits for the run in progress and schedules nothing after it', async () => {
    let runs = 0;
    let isFinished = false;
    const slow = gate();
    const task = new PeriodicTask(
      async () => {
        runs++;
        await slow.opened;
        isFinished = true;
      },
      { everyMs: 100, onError: () => undefined },
    );
    task.start({ runNow: true });
    await jest.advanceTimersByTimeAsync(0);
    const stopped = task.stop();
    slow.open();
    await stopped;
    expect(isFinished).toBe(true);

    await jest.advanceTimersByTimeAsync(1_000);
    expect(runs).toBe(1);
  });

  it('run() joins the run in progress instead of starting a second one', async () => {
    let runs = 0;
    const slow = gate();
    const task = new PeriodicTask(
      async () => {
        runs++;
        await slow.opened;
      },
      { everyMs: 1_000, onError: () => undefined },
    );
    const first = task.run();
    const second = task.run();
    slow.open();
    await Promise.all([first, second]);
    expect(runs).toBe(1);
  });
});
