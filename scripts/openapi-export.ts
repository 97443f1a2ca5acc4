import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createApp } from 'src/app.factory';
import { loadConfig } from 'src/config/load-config';
import { buildOpenApiDocument } from 'src/openapi';

const TARGET = join(__dirname, '..', 'openapi', 'openapi.json');

function sortKeys(value: unknown): unknown {
  if (Array.isArray(value)) {
    return value.map(sortKeys);
  }
  if (value && typeof value === 'object') {
    return Object.fromEntries(
      Object.keys(value)
        .sort()
        .map((k) => [k, sortKeys((value as Record<string, unknown>)[k])]),
    );
  }
  return value;
}

/** Builds the app exactly as main.ts does (SQLite in memory, no listen) and writes its document. */
async function main(): Promise<void> {
  const isCheck = process.argv.includes('--check');
  const config = loadConfig({ DATABASE_URL: 'sqlite::memory:', LOG_LEVEL: 'silent' });
  const silent = new Writable({ write: (_c, _e, cb) => cb() });
  const app = await createApp(config, { logDestination: silent, withoutDocs: true });
  const text = `${JSON.stringify(sortKeys(buildOpenApiDocument(app)), null, 2)}\n`;
  await app.close();
  if (!isCheck) {
    writeFileSync(TARGET, text);
    console.log(`wrote ${TARGET}`);
    return;
  }
  let committed = '';
  try {
    committed = readFileSync(TARGET, 'utf8');
  } catch {
    committed = '';
  }
  if (committed !== text) {
    console.error(
      'openapi/openapi.json is out of date with the code: run `npm run openapi:export` and commit it.',
    );
    process.exit(1);
  }
  console.log('openapi/openapi.json matches the code');
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
