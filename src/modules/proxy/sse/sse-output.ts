import type { OutgoingHttpHeaders } from 'node:http';

/** What `pipeSse` uses of a response: a Node `ServerResponse` fits. */
export interface SseSocket {
  writeHead(status: number, headers: OutgoingHttpHeaders): unknown;
  write(chunk: string | Buffer): boolean;
  end(chunk?: string | Buffer): unknown;
  on(event: 'close', listener: () => void): unknown;
  once(event: 'drain', listener: () => void): unknown;
  removeListener(event: 'close' | 'drain', listener: () => void): unknown;
  readonly writableFinished: boolean;
  readonly writableNeedDrain: boolean;
  readonly writableEnded: boolean;
  readonly destroyed: boolean;
}

/**
 * Where a stream goes: a client's Fastify reply (which fits as it is), or `NoClientOutput`
 * for a stream nobody is attached to (a background response, a JSON answer assembled from a
 * stream).
 */
export interface SseOutput {
  readonly raw: SseSocket;
  /** Headers set before the stream began (request id, rate limits): sent with the SSE ones. */
  getHeaders(): Record<string, number | string | string[] | undefined>;
}

/**
 * An output with no client: the stream is read to its end exactly as for a client that stays,
 * and what would be written is dropped (the caller keeps what it needs from the adapter).
 */
export class NoClientOutput implements SseOutput, SseSocket {
  writableFinished = false;
  writableEnded = false;
  readonly writableNeedDrain = false;
  readonly destroyed = false;

  get raw(): SseSocket {
    return this;
  }

  getHeaders(): Record<string, string> {
    return {};
  }

  writeHead(): void {}

  write(): boolean {
    return true;
  }

  end(): void {
    this.writableEnded = true;
    this.writableFinished = true;
  }

  on(): void {}

  once(): void {}

  removeListener(): void {}
}
