export interface PeriodicTaskOptions {
  /** Milliseconds from the start of one run to the start of the next. */
  everyMs: number;
  /**
   * Hears of a run that threw or rejected, with the number of failures in a row and when the
   * next run starts. The task goes on either way.
   */
  onError: (error: unknown, retry: { failures: number; retryInMs: number }) => void;
  /**
   * With it, after n failures in a row the next run waits `everyMs * 2^n` from the failure,
   * at most this long (a peer that is down is not hammered). Without it failures keep the pace.
   */
  backoffMaxMs?: number;
  /**
   * Keep the process alive while the task is scheduled: for a CLI whose only work is this
   * task. Off for the server's tasks, which must never hold up an exit.
   */
  keepsProcessAlive?: boolean;
}

/**
 * Runs a task every `everyMs`, one run at a time: the next run is scheduled when a run ends,
 * so a slow run (a database that hangs) delays the next one instead of piling runs up.
 * `stop()` ends the schedule and resolves once the run in progress, if any, has ended, so a
 * shutdown hook can await it before the database closes.
 */
export class PeriodicTask {
  private timer: NodeJS.Timeout | null = null;
  private running: Promise<void> | null = null;
  private isStarted = false;
  private failures = 0;

  constructor(
    private readonly task: () => unknown,
    private readonly options: PeriodicTaskOptions,
  ) {}

  /** Schedules the first run in `everyMs`, or runs it at once with `runNow`. Idempotent. */
  start({ runNow = false } = {}): void {
    if (this.isStarted) {
      return;
    }
    this.isStarted = true;
    if (runNow) {
      void this.run();
    } else {
      this.schedule(this.options.everyMs);
    }
  }

  /** Runs the task now (or joins the run in progress); the schedule restarts from this run. */
  run(): Promise<void> {
    this.running ??= this.runOnce().finally(() => {
      this.running = null;
    });
    return this.running;
  }

  /** Ends the schedule; resolves once the run in progress has ended. `start()` resumes it. */
  stop(): Promise<void> {
    this.isStarted = false;
    this.clearTimer();
    return this.running ?? Promise.resolve();
  }

  private async runOnce(): Promise<void> {
    this.clearTimer();
    const { everyMs, backoffMaxMs } = this.options;
    const startedAt = performance.now();
    let delayMs: number;
    try {
      await this.task();
      this.failures = 0;
      delayMs = Math.max(0, everyMs - (performance.now() - startedAt));
    } catch (error) {
      this.failures++;
      delayMs =
        backoffMaxMs === undefined
          ? Math.max(0, everyMs - (performance.now() - startedAt))
          : Math.min(everyMs * 2 ** this.failures, backoffMaxMs);
      this.options.onError(error, { failures: this.failures, retryInMs: delayMs });
    }
    if (this.isStarted) {
      this.schedule(delayMs);
    }
  }

  private schedule(delayMs: number): void {
    this.clearTimer();
    this.timer = setTimeout(() => void this.run(), delayMs);
    if (!this.options.keepsProcessAlive) {
      this.timer.unref();
    }
  }

  private clearTimer(): void {
    if (this.timer) {
      clearTimeout(this.timer);
      this.timer = null;
    }
  }
}
