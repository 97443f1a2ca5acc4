import { Pool } from 'undici';
import {
  TransportRequest,
  TransportResponse,
  UpstreamTransport,
} from 'src/modules/proxy/upstream/upstream-transport';

/**
 * A real upstream behind a keep-alive undici `Pool` (one pool per origin, shared by every
 * catalog entry on that origin). `Pool.request` with Node streams: no fetch, no web streams.
 */
export class PoolTransport implements UpstreamTransport {
  constructor(private readonly pool: Pool) {}

  /** undici's answer as it is (its status, headers and body are what the client reads). */
  request(r: TransportRequest): Promise<TransportResponse> {
    const pieces = Array.isArray(r.body) ? (r.body as readonly Buffer[]) : null;
    return this.pool.request({
      method: r.method,
      path: r.path,
      // undici sends an iterable body chunked unless told its length.
      headers: pieces ? { ...r.headers, 'content-length': String(totalLength(pieces)) } : r.headers,
      // An iterable body is documented (docs/api/Dispatcher.md) though missing from the types.
      body: (pieces as unknown as Buffer | null) ?? (r.body as string | Buffer | undefined),
      signal: r.signal,
      headersTimeout: r.headersTimeoutMs,
      bodyTimeout: r.bodyTimeoutMs,
    });
  }
}

function totalLength(pieces: readonly Buffer[]): number {
  let length = 0;
  for (const piece of pieces) {
    length += piece.length;
  }
  return length;
}
