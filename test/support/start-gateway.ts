import { request as httpRequest } from 'node:http';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { NestFastifyApplication } from '@nestjs/platform-fastify';
import { createApp } from 'src/app.factory';
import { loadConfig } from 'src/config/load-config';
import { createTestDatabase } from 'test/support/test-database';

export const TEST_API_KEY = 'pk-test-0123456789abcdef0123456789';
export const TEST_ADMIN_TOKEN = 'admin-test-0123456789abcdef';

/**
 * The settings every test gateway runs with (in process or spawned): the test keys, limits
 * out of the way, no background load reading, metrics uncached.
 */
export const TEST_GATEWAY_ENV: Record<string, string> = {
  BOOTSTRAP_API_KEY: TEST_API_KEY,
  ADMIN_TOKEN: TEST_ADMIN_TOKEN,
  RATE_LIMIT_PER_SECOND: '1000',
  RATE_LIMIT_BURST: '100000',
  AUTH_FAILURES_PER_MINUTE: '100000',
  // Upstream load reading opens its own connections to the fakes; tests about fleet turn it on.
  FLEET_SCRAPE_SECS: '0',
  // Tests compare scrapes taken a few ms apart: no cached text, no scrape throttle.
  METRICS_CACHE_SECS: '0',
  METRICS_SCRAPES_PER_SECOND: '100000',
};

export interface GatewayResponse<T = any> {
  status: number;
  headers: Headers;
  text: string;
  body: T;
}

export interface RequestOptions {
  headers?: Record<string, string>;
  /** The API key to send as Bearer; `null` sends no credentials. Default: TEST_API_KEY. */
  key?: string | null;
  /** Send this raw string as the body instead of JSON-encoding `body`. */
  raw?: string;
  signal?: AbortSignal;
}

export interface TestGateway {
  url: string;
  app: NestFastifyApplication;
  dir: string;
  databaseUrl: string;
  /** Every JSON log line the gateway wrote, parsed. */
  logs: Record<string, unknown>[];
  /** The raw log text, for "does not contain" assertions. */
  logText(): string;
  request<T = any>(
    method: string,
    path: string,
    body?: unknown,
    options?: RequestOptions,
  ): Promise<GatewayResponse<T>>;
  get<T = any>(path: string, options?: RequestOptions): Promise<GatewayResponse<T>>;
  post<T = any>(
    path: string,
    body?: unknown,
    options?: RequestOptions,
  ): Promise<GatewayResponse<T>>;
  patch<T = any>(
    path: string,
    body?: unknown,
    options?: RequestOptions,
  ): Promise<GatewayResponse<T>>;
  delete<T = any>(path: string, options?: RequestOptions): Promise<GatewayResponse<T>>;
  admin<T = any>(method: string, path: string, body?: unknown): Promise<GatewayResponse<T>>;
  /** node:http with the path sent byte for byte (fetch would normalise `..` away). */
  raw(
    method: string,
    path: string,
    options?: { headers?: Record<string, string>; body?: string },
  ): Promise<GatewayResponse>;
  close(): Promise<void>;
}

export interface StartGatewayOptions {
  /** Extra environment variables, validated like the real ones. */
  env?: Record<string, string>;
  /** A model catalog, written to a temp file and passed as MODELS_FILE. */
  models?: unknown;
  /** Reuse an existing database (restart tests); by default each gateway gets a fresh one. */
  databaseUrl?: string;
}

/**
 * Creates a key through the admin API (name `test`, user `alice` unless `body` says otherwise)
 * and returns its id and plaintext.
 */
export async function createKey(
  gw: TestGateway,
  body: Record<string, unknown> = {},
): Promise<{ id: string; key: string }> {
  const res = await gw.admin('POST', '/api/keys', { name: 'test', user_id: 'alice', ...body });
  expect(res.status).toBe(201);
  return res.body as { id: string; key: string };
}

/**
 * Boots the real application (the same `createApp()` as `main.ts`) on 127.0.0.1 with an
 * ephemeral port and a fresh SQLite file, and returns an HTTP client for it.
 */
export async function startGateway(options: StartGatewayOptions = {}): Promise<TestGateway> {
  const dir = mkdtempSync(join(tmpdir(), 'parley-test-'));
  const ownDatabase = options.databaseUrl ? null : await createTestDatabase(dir);
  const databaseUrl = options.databaseUrl ?? ownDatabase!.url;
  const env: Record<string, string> = {
    PORT: '0',
    DATABASE_URL: databaseUrl,
    ...TEST_GATEWAY_ENV,
    LOG_LEVEL: 'info',
    ...options.env,
  };
  if (options.models !== undefined) {
    const file = join(dir, 'models.json');
    writeFileSync(file, JSON.stringify(options.models));
    env.MODELS_FILE = file;
  }
  const lines: string[] = [];
  const logDestination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      callback();
    },
  });
  const config = loadConfig(env);
  const app = await createApp(config, { logDestination, withoutDocs: false });
  await app.listen({ host: '127.0.0.1', port: 0 });
  const address = app.getHttpServer().address();
  if (!address || typeof address === 'string') {
    throw new Error('gateway did not bind a TCP port');
  }
  const url = `http://127.0.0.1:${address.port}`;

  const request = async (
    method: string,
    path: string,
    body?: unknown,
    opts: RequestOptions = {},
  ): Promise<GatewayResponse> => {
    const headers: Record<string, string> = { ...opts.headers };
    const key = opts.key === undefined ? TEST_API_KEY : opts.key;
    if (key !== null && !('authorization' in headers) && !('x-api-key' in headers)) {
      headers.authorization = `Bearer ${key}`;
    }
    let payload: string | undefined = opts.raw;
    if (payload === undefined && body !== undefined) {
      payload = JSON.stringify(body);
    }
    if (payload !== undefined && !('content-type' in headers)) {
      headers['content-type'] = 'application/json';
    }
    const res = await fetch(url + path, { method, headers, body: payload, signal: opts.signal });
    const text = await res.text();
    let parsed: unknown = undefined;
    try {
      parsed = text ? JSON.parse(text) : undefined;
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  };

  const parsedLines = () =>
    lines.map((l) => {
      try {
        return JSON.parse(l) as Record<string, unknown>;
      } catch {
        return { raw: l };
      }
    });

  let closed = false;
  return {
    url,
    app,
    dir,
    databaseUrl,
    // A live view: every access parses the lines written so far. `has` is needed too, or
    // filter/some/every (which check each index with HasProperty) would see an empty array.
    logs: new Proxy([] as Record<string, unknown>[], {
      get: (_t, prop) => Reflect.get(parsedLines(), prop) as unknown,
      has: (_t, prop) => Reflect.has(parsedLines(), prop),
    }),
    logText: () => lines.join('\n'),
    request,
    get: (path, o) => request('GET', path, undefined, o),
    post: (path, body, o) => request('POST', path, body, o),
    patch: (path, body, o) => request('PATCH', path, body, o),
    delete: (path, o) => request('DELETE', path, undefined, o),
    admin: (method, path, body) => request(method, path, body, { key: TEST_ADMIN_TOKEN }),
    raw: (method, path, opts = {}) =>
      new Promise((resolve, reject) => {
        const req = httpRequest(
          { host: '127.0.0.1', port: address.port, method, path, headers: opts.headers },
          (res) => {
            const chunks: Buffer[] = [];
            res.on('data', (c: Buffer) => chunks.push(c));
            res.on('end', () => {
              const text = Buffer.concat(chunks).toString('utf8');
              let body: unknown;
              try {
                body = JSON.parse(text);
              } catch {
                body = undefined;
              }
              const headers = new Headers();
              for (const [k, v] of Object.entries(res.headers)) {
                if (typeof v === 'string') {
                  headers.set(k, v);
                }
              }
              resolve({ status: res.statusCode ?? 0, headers, text, body });
            });
          },
        );
        req.on('error', reject);
        req.end(opts.body);
      }),
    close: async () => {
      if (closed) {
        return;
      }
      closed = true;
      await app.close();
      if (ownDatabase) {
        await ownDatabase.drop();
        rmSync(dir, { recursive: true, force: true });
      }
    },
  };
}
