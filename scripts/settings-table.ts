import { ENV_SCHEMA } from 'src/config/env.schema';

/** Prints README's settings table from the schema, so the two cannot disagree. */
const rows = Object.entries(ENV_SCHEMA).map(([name, s]) => {
  const def = s.default === '' ? '—' : `\`${String(s.default)}\``;
  return `| \`${name}\` | ${def} | ${s.doc}${'secret' in s && s.secret ? ' *(secret)*' : ''} |`;
});
console.log(['| Variable | Default | Meaning |', '|---|---|---|', ...rows].join('\n'));
