import { once } from 'node:events';
import type { ServerResponse } from 'node:http';

/**
 * Writes a streamed response line by line and waits whenever the socket's buffer is full, so
 * a slow reader slows the producer down instead of making the gateway buffer the export in
 * memory. `write` resolves false once the client has gone: the producer stops.
 */
export class LineWriter {
  private isGone = false;

  constructor(private readonly raw: ServerResponse) {
    raw.once('close', () => {
      if (!raw.writableFinished) {
        this.isGone = true;
      }
    });
  }

  get isClientGone(): boolean {
    return this.isGone;
  }

  async write(line: string): Promise<boolean> {
    if (this.isGone || this.raw.destroyed) {
      return false;
    }
    if (!this.raw.write(line)) {
      await Promise.race([once(this.raw, 'drain'), once(this.raw, 'close')]);
    }
    return !this.isGone;
  }

  end(): void {
    if (!this.isGone) {
      this.raw.end();
    }
  }
}
