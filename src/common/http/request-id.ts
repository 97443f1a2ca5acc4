import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { HEADER } from 'src/common/http/headers';

const SANE_REQUEST_ID = /^[\x21-\x7e]{1,128}$/;

/** The client's `x-request-id` when it is short and printable, else a fresh UUID. */
export function requestIdFor(req: IncomingMessage): string {
  const incoming = req.headers[HEADER.requestId];
  return typeof incoming === 'string' && SANE_REQUEST_ID.test(incoming) ? incoming : randomUUID();
}
