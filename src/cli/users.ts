import 'reflect-metadata';
import { parse, printJson, runCli, UsageError } from 'src/cli/run-cli';
import { ConsoleAuthModule } from 'src/modules/console-auth/console-auth.module';
import { ConsoleRole } from 'src/modules/console-auth/console-user.entity';
import { ConsoleUsersService } from 'src/modules/console-auth/console-users.service';

const USAGE = `Usage: npm run users -- <command>

  create <username> [--role admin|viewer]
      Creates a console user (role admin by default), with the password read from the first
      line of standard input (a prompt on a terminal; never an argument: ps would show it).
  set-password <username>
      Replaces the password (read the same way), re-enables the user, ends their sessions.
  disable <username>
      Disables the user and ends every session they hold, on every instance.
  list [--json]
      Lists console users (never a password hash).

Uses DATABASE_URL like the server (default sqlite:./data/parley.sqlite).`;

function commandFor(
  command: string,
  args: string[],
): (users: ConsoleUsersService) => Promise<void> {
  switch (command) {
    case 'create': {
      const { values, positionals } = parse(args, { role: { type: 'string' } }, true);
      const username = onlyUsername(positionals, command);
      const role = (values.role ?? 'admin') as ConsoleRole;
      return async (users) => printJson(await users.create(username, await readPassword(), role));
    }
    case 'set-password': {
      const username = onlyUsername(parse(args, {}, true).positionals, command);
      return async (users) => printJson(await users.setPassword(username, await readPassword()));
    }
    case 'disable': {
      const username = onlyUsername(parse(args, {}, true).positionals, command);
      return async (users) => printJson(await users.disable(username));
    }
    case 'list': {
      const { values } = parse(args, { json: { type: 'boolean' } });
      return async (users) => {
        const all = await users.list();
        if (values.json) {
          printJson(all);
          return;
        }
        for (const u of all) {
          console.log(`${u.username}\t${u.role}\t${u.is_active ? 'active' : 'disabled'}`);
        }
      };
    }
    default:
      throw new UsageError(`unknown command "${command}"`);
  }
}

function onlyUsername(positionals: string[], command: string): string {
  if (positionals.length !== 1) {
    throw new UsageError(`${command} takes exactly one username`);
  }
  return positionals[0];
}

/** The first line of standard input: the password never goes on the command line. */
async function readPassword(): Promise<string> {
  if (process.stdin.isTTY) {
    process.stderr.write('Password: ');
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) {
    chunks.push(chunk as Buffer);
    if (Buffer.concat(chunks).includes(10)) {
      break;
    }
  }
  return Buffer.concat(chunks).toString('utf8').split(/\r?\n/)[0];
}

runCli(
  {
    usage: USAGE,
    features: [ConsoleAuthModule],
    service: ConsoleUsersService,
    commandFor,
  },
  process.argv.slice(2),
);
