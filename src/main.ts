import 'reflect-metadata';
import { createApp } from 'src/app.factory';
import { ConfigError, loadConfigFromProcessEnv } from 'src/config/load-config';

async function main(): Promise<void> {
  let config;
  try {
    config = loadConfigFromProcessEnv();
  } catch (error) {
    if (error instanceof ConfigError) {
      for (const problem of error.problems) {
        console.error(problem);
      }
      process.exit(1);
    }
    throw error;
  }
  const app = await createApp(config);
  await app.listen({ host: config.http.host, port: config.http.port });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  const log = app.getHttpAdapter().getInstance().log;
  log.info({ host: config.http.host, port }, 'Parley listening');

  // Not Nest's enableShutdownHooks: it re-raises the signal after closing, so the process
  // would end "killed by SIGTERM" instead of exiting 0 after a clean shutdown.
  const shutdown = (signal: NodeJS.Signals) => {
    log.info({ signal }, 'shutting down');
    const force = setTimeout(() => {
      log.error('shutdown did not finish in time; exiting');
      process.exit(1);
    }, config.http.shutdownGraceMs + 10_000);
    force.unref();
    app.close().then(
      () => process.exit(0),
      (error: unknown) => {
        log.error({ err: error }, 'shutdown failed');
        process.exit(1);
      },
    );
  };
  process.once('SIGTERM', shutdown);
  process.once('SIGINT', shutdown);
}

main().catch((error: unknown) => {
  console.error(
    `Parley failed to start: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});
