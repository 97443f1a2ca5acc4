import { Writable } from 'node:stream';
import pino, { type Logger } from 'pino';
import { createLogger } from 'src/common/logging/logger';
import type { RequestLog } from 'src/common/logging/request-log';

/** Parley's pino logger (info level, content redacted) whose JSON lines are kept, parsed. */
export function capturedLogger(): { logger: Logger; lines: Record<string, unknown>[] } {
  const lines: Record<string, unknown>[] = [];
  const destination = new Writable({
    write(chunk: Buffer, _encoding, callback) {
      for (const line of chunk.toString('utf8').split('\n').filter(Boolean)) {
        lines.push(JSON.parse(line) as Record<string, unknown>);
      }
      callback();
    },
  });
  return { logger: createLogger({ level: 'info', content: false }, destination), lines };
}

/** A request's logger that writes nothing, for calls whose log lines a test does not read. */
export const quietRequestLog: RequestLog = pino({ level: 'silent' });
