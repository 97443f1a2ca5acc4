import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import openapiTS, { astToString, COMMENT_HEADER, OpenAPI3 } from 'openapi-typescript';
import { format, resolveConfig } from 'prettier';

export const OPENAPI_DOCUMENT = join(__dirname, '..', '..', 'openapi', 'openapi.json');
export const CLIENT_TYPES = join(__dirname, '..', 'generated', 'openapi.d.ts');

/**
 * The TypeScript types openapi-typescript generates from an OpenAPI document, formatted like
 * the rest of the code. `npm run openapi:export` writes them to test/generated/openapi.d.ts,
 * where the typed-client test (openapi-fetch) and `npm run typecheck` use them.
 */
export async function generateClientTypes(document: unknown): Promise<string> {
  // A field with a default is optional in a request: not "non-nullable" (required).
  const ast = await openapiTS(document as OpenAPI3, { defaultNonNullable: false });
  const text = `${COMMENT_HEADER}${astToString(ast)}`;
  const options = (await resolveConfig(CLIENT_TYPES)) ?? {};
  return format(text, { ...options, parser: 'typescript' });
}

/** Reads the committed document. */
export function committedDocument(): unknown {
  return JSON.parse(readFileSync(OPENAPI_DOCUMENT, 'utf8'));
}

/**
 * Writes the types generated from the committed document to stdout. Tests run it in a child
 * process (`node -r ts-node/register …`): openapi-typescript loads ESM-only dependencies that
 * Node 20 requires natively but jest's module system cannot.
 */
export async function printClientTypes(): Promise<void> {
  process.stdout.write(await generateClientTypes(committedDocument()));
}
