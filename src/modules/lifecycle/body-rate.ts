import type { IncomingMessage } from 'node:http';

/** A body is judged on its average rate only after this long (a client's first bytes). */
export const BODY_RATE_GRACE_MS = 2_000;
const SWEEP_MS = 500;

interface Upload {
  startedAt: number;
  /** The socket's `bytesRead` when the request started (keep-alive sockets carry earlier ones). */
  startBytes: number;
}

/**
 * Cuts requests whose body arrives slower than MIN_BODY_BYTES_PER_SEC on average, measured
 * from the request's start once `BODY_RATE_GRACE_MS` have passed (#22 item 3: sockets trickling
 * one byte every 2 s held requests open for SERVER_REQUEST_TIMEOUT_SECS each). One timer for
 * all requests, ticking only while some body is being received; the rate comes from the
 * socket's `bytesRead`, so no listener touches the body stream Fastify reads.
 *
 * The timer is stopped by the sweep that finds nothing left to watch, not by `settle`: under
 * steady traffic the set of uploads empties and refills with every request, and an interval
 * created and cleared per request cost more than the sweep it stands for.
 */
export class BodyRateWatch {
  private readonly uploads = new Map<IncomingMessage, Upload>();
  private timer: NodeJS.Timeout | null = null;

  constructor(
    private readonly minBytesPerSec: number,
    private readonly cut: (request: IncomingMessage) => void,
    private readonly now: () => number = () => performance.now(),
  ) {}

  /** Starts watching a request that has a body (call before the body is read). */
  watch(request: IncomingMessage): void {
    if (this.minBytesPerSec === 0) {
      return;
    }
    const headers = request.headers;
    const hasBody =
      headers['transfer-encoding'] !== undefined ||
      (headers['content-length'] !== undefined && headers['content-length'] !== '0');
    if (!hasBody) {
      return;
    }
    this.uploads.set(request, { startedAt: this.now(), startBytes: request.socket.bytesRead });
    this.timer ??= setInterval(() => this.sweep(), SWEEP_MS).unref();
  }

  /** The body has arrived (or the request ended): stop watching it. */
  settle(request: IncomingMessage): void {
    this.uploads.delete(request);
  }

  get watching(): number {
    return this.uploads.size;
  }

  stop(): void {
    if (this.timer) {
      clearInterval(this.timer);
      this.timer = null;
    }
  }

  private sweep(): void {
    const now = this.now();
    for (const [request, upload] of this.uploads) {
      const elapsed = now - upload.startedAt;
      if (elapsed < BODY_RATE_GRACE_MS) {
        continue;
      }
      if (request.complete || request.socket.destroyed) {
        this.uploads.delete(request);
        continue;
      }
      const received = request.socket.bytesRead - upload.startBytes;
      if ((received * 1000) / elapsed < this.minBytesPerSec) {
        this.uploads.delete(request);
        this.cut(request);
      }
    }
    if (this.uploads.size === 0) {
      this.stop();
    }
  }
}
