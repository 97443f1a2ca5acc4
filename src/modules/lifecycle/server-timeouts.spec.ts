import { once } from 'node:events';
import { createServer, request } from 'node:http';
import { AddressInfo } from 'node:net';
import { loadConfig } from 'src/config/load-config';
import { serverTimeoutOptions } from 'src/modules/lifecycle/server-timeouts';

describe(serverTimeoutOptions.name, () => {
  it('maps the settings and checks the timeouts at a quarter of the shortest, within 100 ms-1 s', () => {
    expect(serverTimeoutOptions(loadConfig({}).http)).toEqual({
      requestTimeout: 60_000,
      keepAliveTimeout: 65_000,
      connectionTimeout: 0,
      http: { headersTimeout: 10_000, connectionsCheckingInterval: 1_000 },
    });
    const short = loadConfig({
      SERVER_HEADERS_TIMEOUT_SECS: '1',
      SERVER_REQUEST_TIMEOUT_SECS: '2',
    }).http;
    expect(serverTimeoutOptions(short).http.connectionsCheckingInterval).toBe(250);
    const tiny = loadConfig({
      SERVER_HEADERS_TIMEOUT_SECS: '0.1',
      SERVER_REQUEST_TIMEOUT_SECS: '0.2',
    }).http;
    expect(serverTimeoutOptions(tiny).http.connectionsCheckingInterval).toBe(100);
  });

  // Node's requestTimeout bounds receiving the request only: a response (an SSE stream) may run
  // far longer. This pins that behaviour of the Node version we run on.
  it('lets a response run past the request timeout once the request was received', async () => {
    const options = serverTimeoutOptions(
      loadConfig({ SERVER_HEADERS_TIMEOUT_SECS: '0.2', SERVER_REQUEST_TIMEOUT_SECS: '0.4' }).http,
    );
    const server = createServer(options.http, (_req, res) => {
      let n = 0;
      const timer = setInterval(() => {
        res.write(`data: ${n}\n\n`);
        if (++n === 8) {
          clearInterval(timer);
          res.end('data: [DONE]\n\n');
        }
      }, 150);
    });
    server.requestTimeout = options.requestTimeout;
    server.keepAliveTimeout = options.keepAliveTimeout;
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    try {
      const started = performance.now();
      const body = await new Promise<string>((resolve, reject) => {
        const req = request(
          { port: (server.address() as AddressInfo).port, host: '127.0.0.1', path: '/' },
          (res) => {
            let text = '';
            res.setEncoding('utf8');
            res.on('data', (c: string) => (text += c));
            res.on('end', () => resolve(text));
            res.on('error', reject);
          },
        );
        req.on('error', reject);
        req.end();
      });
      expect(performance.now() - started).toBeGreaterThan(1_000);
      expect(body).toContain('data: 7');
      expect(body.endsWith('data: [DONE]\n\n')).toBe(true);
    } finally {
      server.closeAllConnections();
      server.close();
    }
  });
});
