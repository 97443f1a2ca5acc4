import 'reflect-metadata';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { createApp } from 'src/app.factory';
import { loadConfig } from 'src/config/load-config';
import { buildOpenApiDocument } from 'src/openapi';
import { CLIENT_TYPES, generateClientTypes } from 'test/support/openapi-client';

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
  // A bootstrap key, so that the first-start bootstrap has nothing to print.
  const config = loadConfig({
    DATABASE_URL: 'sqlite::memory:',
    LOG_LEVEL: 'silent',
    BOOTSTRAP_API_KEY: 'openapi-export-placeholder',
  });
  const silent = new Writable({ write: (_c, _e, cb) => cb() });
  const app = await createApp(config, { logDestination: silent, withoutDocs: true });
  const text = `${JSON.stringify(sortKeys(buildOpenApiDocument(app)), null, 2)}\n`;
  await app.close();
  // The typed client's types (test/generated/openapi.d.ts) are generated from the document.
  const types = await generateClientTypes(JSON.parse(text));
  if (!isCheck) {
    writeFileSync(TARGET, text);
    writeFileSync(CLIENT_TYPES, types);
    console.log(`wrote ${TARGET} and ${CLIENT_TYPES}`);
    return;
  }
  for (const [file, expected] of [
    [TARGET, text],
    [CLIENT_TYPES, types],
  ]) {
    if (readOrEmpty(file) !== expected) {
      console.error(
        `${file} is out of date with the code: run \`npm run openapi:export\` and commit it.`,
      );
      process.exit(1);
    }
  }
  console.log('openapi/openapi.json and the client types match the code');
}

function readOrEmpty(file: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch {
    return '';
  }
}

main().catch((error: unknown) => {
  console.error(error);
  process.exit(1);
});
