import { readFileSync } from 'node:fs';
import { extname } from 'node:path';
import { load as loadYaml, YAMLException } from 'js-yaml';
import { parsePolicy, PolicyError, PolicyRule } from 'src/modules/policy/policy.schema';

/**
 * Reads and validates POLICY_FILE at boot (YAML, or JSON by its extension). Throws a
 * `PolicyError` whose lines all start with `POLICY_FILE:`; the process stops with them.
 * No file: no rules.
 */
export function loadPolicy(file: string | null, aliases: ReadonlySet<string>): PolicyRule[] {
  if (!file) {
    return [];
  }
  const fail = (problems: string[]) => new PolicyError(problems.map((p) => `POLICY_FILE: ${p}`));
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (error) {
    throw fail([
      `${file}: cannot be read (${(error as NodeJS.ErrnoException).code ?? 'unreadable'})`,
    ]);
  }
  let doc: unknown;
  const isJson = extname(file).toLowerCase() === '.json';
  try {
    doc = isJson ? JSON.parse(text) : loadYaml(text);
  } catch (error) {
    const detail =
      error instanceof YAMLException
        ? `line ${error.mark.line + 1}: ${error.reason}`
        : (error as Error).message;
    throw fail([`${file}: not valid ${isJson ? 'JSON' : 'YAML'} (${detail})`]);
  }
  try {
    return parsePolicy(doc, aliases);
  } catch (error) {
    if (error instanceof PolicyError) {
      throw fail(error.problems);
    }
    throw error;
  }
}
