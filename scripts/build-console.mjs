// Builds the console web app (console/) into dist/console: one JS and one CSS bundle with
// content-hashed names (served with a one-year cache), and index.html pointing at them.
// Runs after `nest build` in `npm run build`, which deletes dist/ first.
import { build } from 'esbuild';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'console');
mkdirSync(join(out, 'assets'), { recursive: true });

const result = await build({
  entryPoints: [join(root, 'console', 'src', 'main.tsx')],
  bundle: true,
  minify: true,
  format: 'esm',
  target: 'es2020',
  jsx: 'automatic',
  jsxImportSource: 'preact',
  entryNames: 'app-[hash]',
  assetNames: 'asset-[hash]',
  outdir: join(out, 'assets'),
  metafile: true,
  legalComments: 'none',
  logLevel: 'warning',
});

const outputs = Object.keys(result.metafile.outputs).map((file) => basename(file));
const js = outputs.find((name) => name.endsWith('.js'));
const css = outputs.find((name) => name.endsWith('.css'));
if (!js || !css) {
  throw new Error(`console build produced ${outputs.join(', ')}: expected one .js and one .css`);
}
const html = readFileSync(join(root, 'console', 'index.html'), 'utf8')
  .replace('%JS%', js)
  .replace('%CSS%', css);
writeFileSync(join(out, 'index.html'), html);
console.log(`console: dist/console/assets/${js}, ${css}`);
