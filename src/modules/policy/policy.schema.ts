import { RE2JS } from 're2js';

/** A policy that cannot be served; one line per problem, each naming the rule's path. */
export class PolicyError extends Error {
  constructor(readonly problems: string[]) {
    super(problems.join('\n'));
  }
}

export type PolicyScope = 'input' | 'output';

export interface PolicyRule {
  /** The operator's name, or `rules[<index>]`. */
  name: string;
  scope: PolicyScope;
  /** Lower-cased, trimmed, non-empty. */
  words: string[];
  /** RE2 syntax (linear time); compiled case-sensitively unless the pattern says `(?i)`. */
  patterns: string[];
  /** Catalog aliases the rule applies to; null for every model. */
  models: string[] | null;
}

/** Bounds that keep one operator mistake from making the matcher huge. */
export const POLICY_LIMITS = {
  rules: 100_000,
  itemsPerRule: 100_000,
  itemLength: 1_000,
} as const;

const RULE_KEYS = new Set(['name', 'scope', 'words', 'patterns', 'models', 'action']);

/**
 * Validates a parsed POLICY_FILE document (shape in SPEC "History"). Collects every problem
 * (`rules[3].patterns[0]: not a valid RE2 pattern (…)`) and throws them together, like the
 * model catalog does.
 */
export function parsePolicy(doc: unknown, aliases: ReadonlySet<string>): PolicyRule[] {
  const problems: string[] = [];
  const problem = (path: string, text: string) => {
    if (problems.length < 50) {
      problems.push(`${path}: ${text}`);
    }
  };
  const rulesDoc = (doc as { rules?: unknown } | null)?.rules;
  if (typeof doc !== 'object' || doc === null || Array.isArray(doc)) {
    throw new PolicyError(['must be an object with a `rules` list']);
  }
  if (!Array.isArray(rulesDoc)) {
    throw new PolicyError(['rules: must be a list']);
  }
  if (rulesDoc.length > POLICY_LIMITS.rules) {
    throw new PolicyError([`rules: at most ${POLICY_LIMITS.rules} rules`]);
  }
  const rules: PolicyRule[] = [];
  rulesDoc.forEach((raw: unknown, i) => {
    const path = `rules[${i}]`;
    if (typeof raw !== 'object' || raw === null || Array.isArray(raw)) {
      problem(path, 'must be an object');
      return;
    }
    const r = raw as Record<string, unknown>;
    for (const key of Object.keys(r)) {
      if (!RULE_KEYS.has(key)) {
        problem(`${path}.${key}`, `unknown key (expected ${[...RULE_KEYS].join(', ')})`);
      }
    }
    if (r.name !== undefined && (typeof r.name !== 'string' || r.name.trim() === '')) {
      problem(`${path}.name`, 'must be a non-empty string');
    }
    if (r.scope !== 'input' && r.scope !== 'output') {
      problem(`${path}.scope`, 'must be "input" or "output"');
    }
    if (r.action !== 'block') {
      problem(`${path}.action`, 'must be "block"');
    }
    const list = (key: 'words' | 'patterns' | 'models'): string[] | null => {
      const value = r[key];
      if (value === undefined || value === null) {
        return null;
      }
      if (!Array.isArray(value) || value.length > POLICY_LIMITS.itemsPerRule) {
        problem(
          `${path}.${key}`,
          `must be a list of at most ${POLICY_LIMITS.itemsPerRule} strings`,
        );
        return [];
      }
      const items: string[] = [];
      value.forEach((item: unknown, j) => {
        if (
          typeof item !== 'string' ||
          item.trim() === '' ||
          item.length > POLICY_LIMITS.itemLength
        ) {
          problem(
            `${path}.${key}[${j}]`,
            `must be a non-empty string of at most ${POLICY_LIMITS.itemLength} characters`,
          );
          return;
        }
        items.push(item);
      });
      return items;
    };
    const words = (list('words') ?? []).map((w) => w.trim().toLowerCase());
    words.forEach((word, j) => {
      if (!/[\p{L}\p{N}]/u.test(word)) {
        problem(
          `${path}.words[${j}]`,
          'must contain a letter or a digit (use `patterns` for symbols)',
        );
      }
    });
    const patterns = list('patterns') ?? [];
    const models = list('models');
    if (words.length === 0 && patterns.length === 0) {
      problem(path, 'needs `words` or `patterns`');
    }
    patterns.forEach((pattern, j) => {
      try {
        if (RE2JS.compile(pattern).matcher('').find()) {
          problem(`${path}.patterns[${j}]`, 'matches the empty string (it would block everything)');
        }
      } catch (error) {
        problem(
          `${path}.patterns[${j}]`,
          `not a valid RE2 pattern (${error instanceof Error ? error.message : String(error)}); RE2 has no backreferences or lookaround`,
        );
      }
    });
    models?.forEach((alias, j) => {
      if (!aliases.has(alias)) {
        problem(`${path}.models[${j}]`, `"${alias}" is not a model of the catalog`);
      }
    });
    rules.push({
      name: typeof r.name === 'string' && r.name.trim() ? r.name.trim() : path,
      scope: r.scope as PolicyScope,
      words,
      patterns,
      models,
    });
  });
  if (problems.length > 0) {
    throw new PolicyError(problems);
  }
  return rules;
}
