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
  app.enableShutdownHooks(['SIGTERM', 'SIGINT']);
  await app.listen({ host: config.http.host, port: config.http.port });
  const address = app.getHttpServer().address();
  const port = typeof address === 'object' && address ? address.port : config.http.port;
  app.getHttpAdapter().getInstance().log.info({ host: config.http.host, port }, 'Parley listening');
}

main().catch((error: unknown) => {
  console.error(
    `Parley failed to start: ${error instanceof Error ? error.message : String(error)}`,
  );
  process.exit(1);
});
