import { Module, Type } from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import pino from 'pino';
import { parseArgs } from 'node:util';
import { createLogger, PinoNestLogger } from 'src/common/logging/logger';
import { ConfigModule } from 'src/config/config.module';
import { AppConfig, ConfigError, loadConfigFromProcessEnv } from 'src/config/load-config';
import { DatabaseModule } from 'src/database/database.module';
import { ApiError } from 'src/common/errors/api-error';

/** A mistake on the command line: printed with the usage text, exit code 2. */
export class UsageError extends Error {}

export interface CliSpec<S> {
  usage: string;
  /** The server's feature modules the CLI needs (settings and database come with every CLI). */
  features: Type[];
  /** The service the commands work on. */
  service: Type<S>;
  /** Parses one command's arguments (throwing UsageError) and returns what it does. */
  commandFor: (command: string, args: string[]) => (service: S) => Promise<void>;
}

/**
 * The shared frame of the operator CLIs (`npm run keys`, `npm run users`): help, settings
 * validated like the server's, the server's own services through a Nest application context,
 * and exit codes 0 (done), 1 (refused or failed), 2 (usage).
 */
export function runCli<S>(spec: CliSpec<S>, argv: string[]): void {
  main(spec, argv).then(
    (code) => process.exit(code),
    (error: unknown) => {
      if (error instanceof UsageError) {
        console.error(`error: ${error.message}\n\n${spec.usage}`);
        process.exit(2);
      }
      if (error instanceof ApiError) {
        const param = error.param ? ` (${error.param})` : '';
        console.error(`error: ${error.code}: ${error.message}${param}`);
        process.exit(1);
      }
      console.error(`error: ${error instanceof Error ? error.message : String(error)}`);
      process.exit(1);
    },
  );
}

async function main<S>(spec: CliSpec<S>, argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  if (command === undefined || command === 'help' || command === '--help' || command === '-h') {
    console.log(spec.usage);
    return command === undefined ? 2 : 0;
  }
  let config: AppConfig;
  try {
    config = loadConfigFromProcessEnv();
  } catch (error) {
    if (error instanceof ConfigError) {
      error.problems.forEach((problem) => console.error(problem));
      return 1;
    }
    throw error;
  }
  const run = spec.commandFor(command, rest);
  const logger = createLogger({ level: 'warn', content: false }, pino.destination(2));
  const cliModule = {
    module: CliModule,
    imports: [ConfigModule.forRoot(config), DatabaseModule, ...spec.features],
  };
  const app = await NestFactory.createApplicationContext(cliModule, {
    logger: new PinoNestLogger(logger),
    abortOnError: false,
  });
  try {
    await run(app.get(spec.service));
    return 0;
  } finally {
    await app.close();
  }
}

/** The server's services and database, without HTTP: a CLI's modules are imported into it. */
@Module({})
class CliModule {}

/** Prints a command's result for people and scripts alike. */
export function printJson(value: unknown): void {
  console.log(JSON.stringify(value, null, 2));
}

type Options = NonNullable<Parameters<typeof parseArgs>[0]>['options'];

/** `parseArgs`, strict, with its complaints turned into UsageErrors. */
export function parse<T extends Options>(args: string[], options: T, allowPositionals = false) {
  try {
    return parseArgs({ args, options, allowPositionals, strict: true });
  } catch (error) {
    throw new UsageError((error as Error).message);
  }
}
