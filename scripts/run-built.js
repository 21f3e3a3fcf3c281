#!/usr/bin/env node
'use strict';
/**
 * `node scripts/run-built.js <dist entry> [args…]`: what the npm scripts of the built CLIs
 * (migrate, validate-config, keys, bg-migrations) run. On a fresh clone dist/ does not exist yet,
 * and Node's MODULE_NOT_FOUND stack says nothing useful: this says what to do instead, then runs
 * the entry in this same process (arguments, signals and exit code unchanged).
 * Plain CommonJS, no dependencies: it may run on the system's Node before `npm ci`.
 */
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.join(__dirname, '..');
const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  process.stderr.write('usage: node scripts/run-built.js <dist/…/entry.js> [args…]\n');
  process.exit(2);
}
const file = path.resolve(ROOT, entry);
if (!fs.existsSync(file)) {
  const install = fs.existsSync(path.join(ROOT, 'node_modules')) ? '' : 'npm ci && ';
  process.stderr.write(`${entry} is not built yet: run ${install}npm run build first\n`);
  process.exit(1);
}
process.argv = [process.argv[0], file, ...args];
require(file);
