import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';

/**
 * Where the built console lies: `dist/console` of the checkout or image. Looked up from this
 * file upwards, so the compiled API (`dist/apps/api/libs/console/src`) and the sources under
 * test (`libs/console/src`) both find it. Undefined when the console was not built.
 */
export function consoleRoot(from = __dirname): string | undefined {
  for (let dir = from; ; dir = dirname(dir)) {
    const candidate = join(dir, 'dist', 'console');
    if (existsSync(join(candidate, 'index.html'))) return candidate;
    if (dirname(dir) === dir) return undefined;
  }
}

/** Vite names built assets `<name>-<content hash>.<ext>`: their content never changes under that name. */
export function isHashedAsset(path: string): boolean {
  return /(^|\/)assets\/[^/]+-[A-Za-z0-9_-]{8,}\.[a-z0-9]+$/.test(path);
}
