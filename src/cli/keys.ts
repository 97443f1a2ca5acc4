import 'reflect-metadata';
import { plainToInstance } from 'class-transformer';
import { validate } from 'class-validator';
import { parse, printJson, runCli, UsageError } from 'src/cli/run-cli';
import { validationExceptionFactory } from 'src/common/validation/validation-exception.factory';
import { ApiKeysService } from 'src/modules/auth/api-keys.service';
import { AuthModule } from 'src/modules/auth/auth.module';
import { CreateKeyDto } from 'src/modules/auth/dto/create-key.dto';
import { KeyResponseDto } from 'src/modules/auth/dto/key-response.dto';
import { MAX_PAGE_SIZE } from 'src/modules/auth/dto/list-keys-query.dto';
import { MetricsModule } from 'src/modules/metrics/metrics.module';

const USAGE = `Usage: npm run keys -- <command>

  create --user <user_id> --name <name> [--role user|service|node] [--key <key>]
         [--allowed-models <alias,alias>]
      Creates a key and prints it as JSON, with the plaintext "key" shown this once.
  list [--user <user_id>] [--json]
      Lists keys, newest first (a table, or JSON with --json). Never shows a key.
  revoke <id>
      Deactivates a key (PATCH /api/keys/<id> {"is_active": true} undoes it).

Uses DATABASE_URL like the server (default sqlite:./data/parley.sqlite).`;

type Command = (keys: ApiKeysService) => Promise<void>;

function commandFor(command: string, args: string[]): Command {
  switch (command) {
    case 'create': {
      const { values } = parse(args, {
        user: { type: 'string' },
        name: { type: 'string' },
        role: { type: 'string' },
        key: { type: 'string' },
        'allowed-models': { type: 'string' },
      });
      const plain = {
        user_id: values.user,
        name: values.name,
        role: values.role,
        key: values.key,
        allowed_models: values['allowed-models']?.split(',').map((alias) => alias.trim()),
      };
      return async (keys) => {
        const created = await keys.create(await validated(plain));
        printJson(created);
        console.error('Store the key now: it is shown only this once.');
      };
    }
    case 'list': {
      const { values } = parse(args, { user: { type: 'string' }, json: { type: 'boolean' } });
      return async (keys) => {
        const all: KeyResponseDto[] = [];
        let after: string | undefined;
        do {
          const page = await keys.list({ limit: MAX_PAGE_SIZE, after, user_id: values.user });
          all.push(...page.data);
          after = page.next_cursor ?? undefined;
        } while (after !== undefined);
        console.log(values.json ? JSON.stringify(all, null, 2) : table(all));
      };
    }
    case 'revoke': {
      const { positionals } = parse(args, {}, true);
      if (positionals.length !== 1) {
        throw new UsageError('revoke takes exactly one key id');
      }
      return async (keys) => {
        const revoked = await keys.revoke(positionals[0]);
        printJson(revoked);
      };
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

/** The same DTO and messages as `POST /api/keys`. */
async function validated(plain: Record<string, unknown>): Promise<CreateKeyDto> {
  const dto = plainToInstance(CreateKeyDto, plain);
  const errors = await validate(dto, { whitelist: true, forbidUnknownValues: true });
  if (errors.length > 0) {
    throw validationExceptionFactory(errors);
  }
  return dto;
}

function table(keys: KeyResponseDto[]): string {
  const header = ['ID', 'USER', 'NAME', 'ROLE', 'ACTIVE', 'CREATED', 'LAST USED'];
  const rows = keys.map((k) => [
    k.id,
    k.user_id,
    k.name,
    k.role,
    k.is_active ? 'yes' : 'no',
    k.created_at,
    k.last_used_at ?? '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  return [header, ...rows]
    .map((row) =>
      row
        .map((cell, i) => cell.padEnd(widths[i]))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

runCli(
  {
    usage: USAGE,
    features: [MetricsModule, AuthModule],
    service: ApiKeysService,
    commandFor,
  },
  process.argv.slice(2),
);
