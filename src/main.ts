import 'reflect-metadata';
import { createApp } from 'src/app.factory';
import { ConfigError, loadConfigFromProcessEnv } from 'src/config/load-config';
import { shutdownOnSignals } from 'src/modules/lifecycle/shutdown-on-signals';

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

  shutdownOnSignals(app, config);
}

main().catch((error: unknown) => {
  console.error(
    `Parley failed to start: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});
