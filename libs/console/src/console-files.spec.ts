import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { consoleRoot, isHashedAsset } from './console-files';

describe('console files', () => {
  it('caches only content-hashed assets for good', () => {
    expect(isHashedAsset('/app/dist/console/assets/index-BzQ4x9_a.js')).toBe(true);
    expect(isHashedAsset('/app/dist/console/assets/index-C1a2b3c4.css')).toBe(true);
    expect(isHashedAsset('/app/dist/console/index.html')).toBe(false);
    expect(isHashedAsset('/app/dist/console/assets/logo.svg')).toBe(false);
  });

  it('finds dist/console above the compiled file, or nothing when it was not built', () => {
    const root = mkdtempSync(join(tmpdir(), 'console-root-'));
    try {
      const compiled = join(root, 'dist', 'apps', 'api', 'libs', 'console', 'src');
      mkdirSync(compiled, { recursive: true });
      expect(consoleRoot(compiled)).toBeUndefined();
      mkdirSync(join(root, 'dist', 'console'));
      writeFileSync(join(root, 'dist', 'console', 'index.html'), '<!doctype html>');
      expect(consoleRoot(compiled)).toBe(join(root, 'dist', 'console'));
    } finally {
      rmSync(root, { recursive: true, force: true });
    }
  });
});
