'use strict';
/**
 * Steps 1–2: dependencies (they bring Node 24), continuing on that Node, and a build when the
 * sources are newer than dist/. Plain CommonJS without dependencies: this runs on whatever
 * `node` is on PATH before node_modules exists.
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const os = require('node:os');
const path = require('node:path');
const projectNode = require('../lib/project-node');
const { LauncherError, findOnPath, mtimeMs, relativeToRoot, say, warn } = require('./common');
const { describeExit, isSuccess, runTask, signalChild } = require('./supervisor');

const { ROOT, REQUIRED_NODE_MAJOR, LOCAL_NODE } = projectNode;
const REEXEC_MARKER = 'CONVEYOR_DEV_REEXEC';
const ENTRY = {
  api: path.join(ROOT, 'dist/apps/api/apps/api/src/main.js'),
  worker: path.join(ROOT, 'dist/apps/worker/apps/worker/src/main.js'),
  migrate: path.join(ROOT, 'dist/apps/api/apps/api/src/migrate.js'),
};
// Inputs whose change makes dist/ stale.
const BUILD_INPUT_DIRS = ['apps', 'libs'];
const BUILD_INPUT_FILES = /^(tsconfig.*\.json|nest-cli\.json)$/;

/** Step 1: install when node_modules is missing or was installed from another lockfile. */
async function ensureDependencies() {
  if (!projectNode.dependenciesStale()) return;
  say(fs.existsSync(LOCAL_NODE) ? 'package-lock.json changed: running npm ci' : 'installing dependencies: npm ci');
  const npm = findOnPath('npm');
  if (!npm) throw new LauncherError('npm is not on PATH; install Node.js with npm, then run npm run dev again');
  const exit = await runTask('npm', npm, ['ci', '--no-audit', '--no-fund'], { prefixOutput: false });
  if (!isSuccess(exit)) throw new LauncherError(`npm ci failed (${describeExit(exit)})`);
  if (!fs.existsSync(LOCAL_NODE)) throw new LauncherError(`npm ci did not install ${relativeToRoot(LOCAL_NODE)} (the "node" devDependency)`);
  projectNode.recordInstalledLock();
}

/**
 * The apps need Node 24, which the `node` devDependency provides. When started by an older
 * system node (a fresh clone before node_modules existed), run the launcher (`script`) again on
 * Node 24 and pass signals and the exit code through.
 */
function reexecOnLocalNode(script) {
  if (process.env[REEXEC_MARKER]) {
    throw new LauncherError(`${LOCAL_NODE} is Node ${process.versions.node}, not ${REQUIRED_NODE_MAJOR}; run npm ci`);
  }
  say(`continuing on Node ${REQUIRED_NODE_MAJOR} from node_modules (this is Node ${process.versions.node})`);
  const child = spawn(LOCAL_NODE, [script, ...process.argv.slice(2)], {
    stdio: 'inherit',
    env: { ...process.env, [REEXEC_MARKER]: '1' },
  });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => signalChild({ proc: child }, signal));
  child.once('error', (err) => {
    warn(`cannot start ${LOCAL_NODE}: ${err.message}`);
    process.exit(1);
  });
  child.once('exit', (code, signal) => process.exit(code ?? 128 + (os.constants.signals[signal] || 0)));
}

/** Newest mtime of any build input: a cheap walk, no hashing. */
function newestBuildInput() {
  let newest = 0;
  const walk = (dir) => {
    let entries;
    try {
      entries = fs.readdirSync(dir, { withFileTypes: true });
    } catch {
      return;
    }
    for (const entry of entries) {
      if (entry.name.startsWith('.') || entry.name === 'node_modules') continue;
      const full = path.join(dir, entry.name);
      if (entry.isDirectory()) walk(full);
      else newest = Math.max(newest, mtimeMs(full) || 0);
    }
  };
  BUILD_INPUT_DIRS.forEach((dir) => walk(path.join(ROOT, dir)));
  for (const name of fs.readdirSync(ROOT)) {
    if (BUILD_INPUT_FILES.test(name)) newest = Math.max(newest, mtimeMs(path.join(ROOT, name)) || 0);
  }
  return newest;
}

/** Step 2: build unless every entry point exists and is newer than every source file. */
async function buildIfStale(options) {
  const outputTimes = Object.values(ENTRY).map(mtimeMs);
  const missing = outputTimes.some((t) => t === null);
  if (!options.build) {
    if (missing) throw new LauncherError('--no-build given but dist/ is incomplete; run npm run build');
    return;
  }
  if (!missing && Math.min(...outputTimes) >= newestBuildInput()) {
    say('build is up to date');
    return;
  }
  const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
  if (!pkg.scripts || !pkg.scripts.build) throw new LauncherError('package.json has no "build" script');
  say(missing ? 'building the apps (npm run build)' : 'sources changed: rebuilding (npm run build)');
  const npm = findOnPath('npm');
  if (!npm) throw new LauncherError('npm is not on PATH');
  const exit = await runTask('build', npm, ['run', '--silent', 'build'], { prefixOutput: false });
  if (!isSuccess(exit)) throw new LauncherError(`the build failed (${describeExit(exit)})`);
  const stillMissing = Object.values(ENTRY).filter((file) => !fs.existsSync(file));
  if (stillMissing.length) throw new LauncherError(`the build did not produce ${stillMissing.map(relativeToRoot).join(', ')}`);
}

module.exports = { ENTRY, REEXEC_MARKER, REQUIRED_NODE_MAJOR, ensureDependencies, reexecOnLocalNode, buildIfStale };
