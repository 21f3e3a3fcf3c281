#!/usr/bin/env node
'use strict';
/**
 * `npm install` on this registry leaves other-platform optional binaries (darwin/win32 builds
 * of native helpers) out of package-lock.json because the registry does not serve them; `npm ci`
 * then refuses the lockfile as out of sync. This adds a placeholder `optional` entry for each
 * missing optional dependency so `npm ci` accepts the lockfile and simply skips them.
 * Run after every `npm install` (the `postinstall`-free way: `npm run lock:fix`).
 */
const fs = require('node:fs');
const path = require('node:path');

const lockPath = path.join(__dirname, '..', 'package-lock.json');
const lock = JSON.parse(fs.readFileSync(lockPath, 'utf8'));
const packages = lock.packages;

function resolvesFrom(parentKey, name) {
  // Mirror node's lookup: nested node_modules first, then each ancestor, then the root.
  let dir = parentKey;
  for (;;) {
    const candidate = dir ? `${dir}/node_modules/${name}` : `node_modules/${name}`;
    if (packages[candidate]) return true;
    if (!dir) return false;
    const idx = dir.lastIndexOf('/node_modules/');
    dir = idx === -1 ? '' : dir.slice(0, idx);
  }
}

let added = 0;
for (const [key, meta] of Object.entries(packages)) {
  for (const [name, range] of Object.entries(meta.optionalDependencies ?? {})) {
    if (resolvesFrom(key, name)) continue;
    const version = String(range).replace(/^[\^~=]/, '');
    packages[`node_modules/${name}`] = { version, optional: true };
    added += 1;
  }
}

fs.writeFileSync(lockPath, JSON.stringify(lock, null, 2) + '\n');
// node_modules was installed from this lockfile a moment ago: say so, so launchers do not reinstall.
require('./lib/project-node').recordInstalledLock();
console.log(`fix-lockfile: ${added} optional placeholder entr${added === 1 ? 'y' : 'ies'} added`);
