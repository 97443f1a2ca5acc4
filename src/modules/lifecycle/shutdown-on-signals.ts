import { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from 'pino';
import { AppConfig } from 'src/config/load-config';
import { LifecycleService } from 'src/modules/lifecycle/lifecycle.service';

/** Beyond the grace period, how long closing the app (database included) may take. */
const CLOSE_BUDGET_MS = 10_000;

/**
 * SIGTERM/SIGINT: drain (see LifecycleService), close the app (Fastify, then the database in
 * `onApplicationShutdown`), flush the logs and exit 0. A second signal exits 1 at once; a
 * close that hangs past the grace period plus 10 s exits 1.
 *
 * Not Nest's `enableShutdownHooks()`: it re-raises the signal after closing, so the process
 * would end "killed by SIGTERM" instead of exiting 0, and it drains nothing before
 * `onModuleDestroy` hooks run.
 */
export function shutdownOnSignals(app: NestFastifyApplication, config: AppConfig): void {
  const log = app.getHttpAdapter().getInstance().log as unknown as Logger;
  let isShuttingDown = false;
  const exit = (code: number) => {
    // The log destination is asynchronous: flush it, but never wait on it for long.
    process.exitCode = code;
    setTimeout(() => process.exit(code), 1_000).unref();
    log.flush(() => process.exit(code));
  };

  const shutdown = (signal: NodeJS.Signals) => {
    if (isShuttingDown) {
      log.warn({ signal }, 'second signal during shutdown: exiting now');
      exit(1);
      return;
    }
    isShuttingDown = true;
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown did not finish in time; exiting');
      exit(1);
    }, config.http.shutdownGraceMs + CLOSE_BUDGET_MS);
    force.unref();
    app
      .get(LifecycleService)
      .drain()
      .then(() => app.close())
      .then(
        () => {
          log.info('shutdown complete');
          exit(0);
        },
        (error: unknown) => {
          log.error({ err: error }, 'shutdown failed');
          exit(1);
        },
      );
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
}
