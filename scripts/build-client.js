#!/usr/bin/env node
'use strict';
/**
 * Builds the client package (libs/client) as it would be published: ESM in dist/esm and
 * CommonJS in dist/cjs, each with its type declarations and a package.json naming its module
 * kind, so `import` and `require` of `@conveyor/client` and `@conveyor/client/nest` both work.
 */
const fs = require('node:fs');
const path = require('node:path');
const { execFileSync } = require('node:child_process');

const ROOT = path.join(__dirname, '..');
const PACKAGE = path.join(ROOT, 'libs', 'client');
const DIST = path.join(PACKAGE, 'dist');
const TSC = path.join(ROOT, 'node_modules', 'typescript', 'bin', 'tsc');

const FLAVOURS = [
  { dir: 'esm', type: 'module', args: ['--module', 'es2022', '--moduleResolution', 'bundler'] },
  { dir: 'cjs', type: 'commonjs', args: ['--module', 'commonjs', '--moduleResolution', 'node10', '--ignoreDeprecations', '6.0'] },
];

fs.rmSync(DIST, { recursive: true, force: true });
for (const { dir, type, args } of FLAVOURS) {
  const outDir = path.join(DIST, dir);
  fs.mkdirSync(outDir, { recursive: true });
  // Node picks the module kind of a .js file from the nearest package.json.
  fs.writeFileSync(path.join(outDir, 'package.json'), `${JSON.stringify({ type }, null, 2)}\n`);
  execFileSync(process.execPath, [TSC, '-p', path.join(PACKAGE, 'tsconfig.build.json'), '--outDir', outDir, ...args], { stdio: 'inherit', cwd: PACKAGE });
}
process.stdout.write(`built ${path.relative(ROOT, DIST)} (esm, cjs)\n`);
