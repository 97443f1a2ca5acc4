import { LoggerService } from '@nestjs/common';
import pino, { DestinationStream, Logger } from 'pino';
import pinoPretty from 'pino-pretty';
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
 * JSON on stdout, written in batches: one `write` per ~4 KiB of lines (or every 250 ms when
 * quieter) instead of one per line, which cost about a quarter of the gateway's CPU on `/v1`
 * (docs/notes/bench.md). Lines still buffered are flushed at exit (pino registers the
 * destination for that).
 */
const STDOUT_BATCHED = { fd: 1, sync: false, minLength: 4096, periodicFlush: 250 };

/**
 * Where log lines go when no destination is given: JSON on stdout for machines, or readable
 * lines (pino-pretty, in process: no worker thread) for a person at a terminal. `auto` decides
 * by whether stdout is a TTY, so `npm start` in a terminal is readable while `docker logs` and
 * log shippers get JSON.
 */
export function logDestination(
  format: AppConfig['log']['format'],
  isTty = process.stdout.isTTY === true,
): DestinationStream {
  if (format === 'pretty' || (format === 'auto' && isTty)) {
    return pinoPretty({
      colorize: isTty,
      translateTime: 'SYS:HH:MM:ss.l',
      ignore: 'pid,hostname',
      singleLine: true,
      sync: false,
    });
  }
  return pino.destination(STDOUT_BATCHED);
}

export function createLogger(
  log: Omit<AppConfig['log'], 'format'> & Partial<Pick<AppConfig['log'], 'format'>>,
  destination?: DestinationStream,
): Logger {
  return pino(
    {
      level: log.level,
      base: undefined,
      redact: {
        paths: log.content ? CREDENTIAL_PATHS : [...CREDENTIAL_PATHS, ...CONTENT_PATHS],
        censor: '[redacted]',
      },
    },
    destination ?? logDestination(log.format ?? 'auto'),
  );
}

/**
 * Nest's start-up chatter, one line per module, controller and route (~60 lines): at debug,
 * so that `info` shows what an operator acts on (listening, warnings, the first key).
 */
const STARTUP_DETAIL_CONTEXTS = new Set(['InstanceLoader', 'RoutesResolver', 'RouterExplorer']);

/**
 * Routes Nest's log calls (bootstrap, every service's `new Logger(context)`) into the same JSON
 * stream, without a `reqId`: a line about one request is written with that request's logger,
 * passed to the code that writes it (src/common/logging/request-log.ts).
 */
export class PinoNestLogger implements LoggerService {
  constructor(private readonly logger: Logger) {}

  log(message: unknown, context?: string) {
    if (context !== undefined && STARTUP_DETAIL_CONTEXTS.has(context)) {
      this.logger.debug({ context }, String(message));
      return;
    }
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
