import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, extname, join } from 'node:path';

export interface ConsoleAsset {
  body: Buffer;
  contentType: string;
}

const TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.map': 'application/json; charset=utf-8',
};

/** The package root: the nearest folder above `from` holding package.json (src/ or dist/ alike). */
function packageRoot(from: string): string {
  let dir = from;
  while (!existsSync(join(dir, 'package.json')) && dirname(dir) !== dir) {
    dir = dirname(dir);
  }
  return dir;
}

/**
 * The built console (`npm run build` writes dist/console), read into memory once at start: a
 * few hundred KiB. Only files in this map are ever served, so no request path reaches the
 * file system (no traversal to guard against).
 */
export class ConsoleAssets {
  constructor(
    readonly index: ConsoleAsset | null,
    private readonly assets: ReadonlyMap<string, ConsoleAsset>,
  ) {}

  static load(dir = join(packageRoot(__dirname), 'dist', 'console')): ConsoleAssets {
    const indexFile = join(dir, 'index.html');
    if (!existsSync(indexFile)) {
      return new ConsoleAssets(null, new Map());
    }
    const assets = new Map<string, ConsoleAsset>();
    const assetDir = join(dir, 'assets');
    for (const name of existsSync(assetDir) ? readdirSync(assetDir) : []) {
      const contentType = TYPES[extname(name)];
      if (contentType) {
        assets.set(name, { body: readFileSync(join(assetDir, name)), contentType });
      }
    }
    return new ConsoleAssets(
      { body: readFileSync(indexFile), contentType: TYPES['.html'] },
      assets,
    );
  }

  asset(name: string): ConsoleAsset | undefined {
    return this.assets.get(name);
  }
}
