import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { Cancellation } from 'src/modules/proxy/upstream/cancellation';
import type { RequestBody } from 'src/modules/proxy/wire/wire-format';

/** One HTTP exchange with an upstream, as the upstream client asks for it. */
export interface TransportRequest {
  method: 'GET' | 'POST';
  /** Absolute path on the upstream origin, base path included (`/v1/chat/completions`). */
  path: string;
  headers: Record<string, string>;
  body?: RequestBody;
  signal: Cancellation | AbortSignal;
  /** Longest wait for response headers (first byte). */
  headersTimeoutMs: number;
  /** Longest silence between two body chunks. */
  bodyTimeoutMs: number;
}

export interface TransportResponse {
  statusCode: number;
  headers: IncomingHttpHeaders;
  /** A Node stream that must be consumed or destroyed; it emits `close` when done. */
  body: Readable;
}

/**
 * How the upstream client reaches one upstream: an undici pool for real servers, or the
 * in-process echo model. Failures reject with the transport's own errors (undici codes,
 * socket errors, the abort reason); the client classifies them.
 */
export interface UpstreamTransport {
  request(request: TransportRequest): Promise<TransportResponse>;
}
