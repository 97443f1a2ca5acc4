/**
 * The floor: the thinnest Node pass-through we could write, run as its own process. A node:http
 * server in front of one keep-alive undici Pool; method, path, headers and body bytes go
 * through untouched (minus hop-by-hop headers), the answer's bytes come back the same way.
 * No auth, no parsing, no logging: whatever Parley costs above this is the price of its
 * features. It still does what any correct proxy must: a client hang-up aborts the upstream
 * request.
 *
 * Of the variants tried (request body streamed or buffered; `Pool.request` + `pipeline`,
 * `Pool.request` + 'data' events, `Pool.stream`), buffering the (small) request body and
 * `Pool.stream` writing straight into the response used the least CPU per request.
 */
import { createServer, IncomingMessage, OutgoingHttpHeaders, ServerResponse } from 'node:http';
import { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { exitWithParent, reportToParent } from './child-process';

const upstream = process.env.BENCH_UPSTREAM_ORIGIN;
if (!upstream) {
  throw new Error('BENCH_UPSTREAM_ORIGIN is required');
}
const pool = new Pool(upstream, { pipelining: 1, keepAliveTimeout: 60_000 });
const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'transfer-encoding', 'host', 'upgrade']);
const counters = { requests: 0, upstreamErrors: 0 };

function withoutHopByHop(headers: Record<string, string | string[] | undefined>) {
  const out: OutgoingHttpHeaders = {};
  for (const name in headers) {
    if (!HOP_BY_HOP.has(name)) {
      out[name] = headers[name];
    }
  }
  return out;
}

function handle(req: IncomingMessage, res: ServerResponse): void {
  counters.requests++;
  const chunks: Buffer[] = [];
  req.on('data', (chunk: Buffer) => chunks.push(chunk));
  req.on('end', () => {
    const abort = new AbortController();
    res.on('close', () => {
      if (!res.writableFinished) {
        abort.abort();
      }
    });
    pool.stream(
      {
        method: req.method as 'GET' | 'POST',
        path: req.url ?? '/',
        headers: withoutHopByHop(req.headers) as Record<string, string>,
        body: chunks.length === 0 ? null : chunks.length === 1 ? chunks[0] : Buffer.concat(chunks),
        signal: abort.signal,
      },
      ({ statusCode, headers }) => {
        res.writeHead(statusCode, withoutHopByHop(headers));
        return res;
      },
      (error) => {
        if (!error) {
          return;
        }
        counters.upstreamErrors++;
        if (!res.headersSent) {
          res.writeHead(502, { 'content-type': 'application/json' });
          res.end('{"error":{"message":"floor: upstream failed"}}');
        } else {
          res.destroy();
        }
      },
    );
  });
}

const server = createServer({ keepAliveTimeout: 120_000, requestTimeout: 0 }, handle);
server.headersTimeout = 60_000;
server.listen(0, '127.0.0.1', () => {
  const { port } = server.address() as AddressInfo;
  reportToParent({ type: 'ready', port });
});
exitWithParent(() => ({ type: 'counters', ...counters }));
