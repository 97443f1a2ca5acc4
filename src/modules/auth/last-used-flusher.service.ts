import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { PeriodicTask } from 'src/common/time/periodic-task';
import { LastUsedRecorder } from 'src/modules/auth/last-used-recorder';

const FLUSH_EVERY_MS = 1000;

/** Writes `last_used_at` in the background every second, and once more at shutdown. */
@Injectable()
export class LastUsedFlusherService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  /** `flush` never throws. */
  private readonly flushes = new PeriodicTask(() => this.recorder.flush(), {
    everyMs: FLUSH_EVERY_MS,
    onError: () => undefined,
  });

  constructor(private readonly recorder: LastUsedRecorder) {}

  onApplicationBootstrap(): void {
    this.flushes.start();
  }

  /** Runs before the database is closed (DatabaseCloser uses onApplicationShutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    await this.flushes.stop();
    await this.recorder.flush();
  }
}
