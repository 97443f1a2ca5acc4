import { BeforeApplicationShutdown, Injectable, OnApplicationBootstrap } from '@nestjs/common';
import { LastUsedRecorder } from 'src/modules/auth/last-used-recorder';

const FLUSH_EVERY_MS = 1000;

/** Writes `last_used_at` in the background every second, and once more at shutdown. */
@Injectable()
export class LastUsedFlusherService implements OnApplicationBootstrap, BeforeApplicationShutdown {
  private timer: NodeJS.Timeout | null = null;

  constructor(private readonly recorder: LastUsedRecorder) {}

  onApplicationBootstrap(): void {
    this.timer = setInterval(() => void this.recorder.flush(), FLUSH_EVERY_MS);
    this.timer.unref();
  }

  /** Runs before the database is closed (DatabaseCloser uses onApplicationShutdown). */
  async beforeApplicationShutdown(): Promise<void> {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
    await this.recorder.flush();
  }
}
