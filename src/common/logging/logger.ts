import { LoggerService } from '@nestjs/common';
import pino, { DestinationStream, Logger } from 'pino';
import { AppConfig } from 'src/config/load-config';

/** Paths pino replaces with "[redacted]": credentials always, content unless LOG_CONTENT. */
const CREDENTIAL_PATHS = [
  'req.headers.authorization',
  'req.headers["x-api-key"]',
  'headers.authorization',
  'headers["x-api-key"]',
  'key',
  'apiKey',
  'body.key',
];
/** `upstream_message`: an upstream's error text may echo the prompt (see upstream-failure.ts). */
const CONTENT_PATHS = ['body', 'messages', 'prompt', 'content', 'text', 'upstream_message'];

/**
 * Stdout, written in batches: one `write` per ~4 KiB of lines (or every 250 ms when quieter)
 * instead of one per line. With one line per request, a write per line cost about a quarter
 * of the gateway's CPU on `/v1` (docs/notes/bench.md). Lines still buffered are flushed at
 * exit (pino registers the destination for that).
 */
const STDOUT_BATCHED = { fd: 1, sync: false, minLength: 4096, periodicFlush: 250 };

export function createLogger(log: AppConfig['log'], destination?: DestinationStream): Logger {
  return pino(
    {
      level: log.level,
      base: undefined,
      redact: {
        paths: log.content ? CREDENTIAL_PATHS : [...CREDENTIAL_PATHS, ...CONTENT_PATHS],
        censor: '[redacted]',
      },
    },
    destination ?? pino.destination(STDOUT_BATCHED),
  );
}

/** Routes Nest's own log calls (bootstrap, exceptions) into the same JSON stream. */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string) {
    this.logger.info({ context }, String(message));
  }
  error(message: unknown, trace?: string, context?: string) {
    this.logger.error({ context, trace }, String(message));
  }
  warn(message: unknown, context?: string) {
    this.logger.warn({ context }, String(message));
  }
  debug(message: unknown, context?: string) {
    this.logger.debug({ context }, String(message));
  }
  verbose(message: unknown, context?: string) {
    this.logger.trace({ context }, String(message));
  }
}
