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

  async request(r: TransportRequest): Promise<TransportResponse> {
    const response = await this.pool.request({
      method: r.method,
      path: r.path,
      headers: r.headers,
      body: r.body,
      signal: r.signal,
      headersTimeout: r.headersTimeoutMs,
      bodyTimeout: r.bodyTimeoutMs,
    });
    return { statusCode: response.statusCode, headers: response.headers, body: response.body };
  }
}
