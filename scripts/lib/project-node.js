'use strict';
/**
 * The two steps every project launcher takes before it can use the project's code: make sure
 * dependencies are installed (they bring Node 24 as the `node` devDependency), then continue
 * on that Node. Plain CommonJS without dependencies: a fresh clone runs this on whatever
 * `node` is first on PATH (Node 20 on our machines).
 */
const { spawn, spawnSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const REQUIRED_NODE_MAJOR = 24;
const LOCAL_NODE = path.join(ROOT, 'node_modules', '.bin', 'node');

const INSTALLED_LOCK_HASH = path.join(ROOT, 'node_modules', '.conveyor-lock-sha256');

function lockHash() {
  return require('node:crypto')
    .createHash('sha256')
    .update(fs.readFileSync(path.join(ROOT, 'package-lock.json')))
    .digest('hex');
}

/** Records which lockfile node_modules matches (after npm ci/install and after fix-lockfile). */
function recordInstalledLock() {
  if (fs.existsSync(path.join(ROOT, 'node_modules'))) fs.writeFileSync(INSTALLED_LOCK_HASH, `${lockHash()}\n`);
}

/**
 * True when node_modules is missing, or was installed from another package-lock.json. Content,
 * not modification times: rewriting the lockfile with the same content must not reinstall, and
 * a reinstall under running processes is destructive.
 */
function dependenciesStale() {
  // A git worktree that borrows another checkout's node_modules (a symlink) must never reinstall
  // it: `npm ci` here would empty the install the other checkout's processes are running on.
  const modules = path.join(ROOT, 'node_modules');
  if (fs.existsSync(modules) && fs.lstatSync(modules).isSymbolicLink()) return false;
  if (!fs.existsSync(LOCAL_NODE)) return true;
  try {
    return fs.readFileSync(INSTALLED_LOCK_HASH, 'utf8').trim() !== lockHash();
  } catch {
    // Installed by hand (npm install/ci without a launcher): trust it and remember it.
    recordInstalledLock();
    return false;
  }
}

/** Runs `npm ci` when needed (synchronously, output shown); throws if it fails. */
function ensureDependencies(log = (message) => process.stdout.write(`${message}\n`)) {
  if (!dependenciesStale()) return false;
  log(fs.existsSync(LOCAL_NODE) ? 'package-lock.json changed: running npm ci' : 'installing dependencies: npm ci');
  const result = spawnSync('npm', ['ci', '--no-audit', '--no-fund'], { cwd: ROOT, stdio: 'inherit' });
  if (result.status !== 0) throw new Error(`npm ci failed (exit ${result.status ?? result.signal})`);
  if (!fs.existsSync(LOCAL_NODE)) throw new Error('npm ci did not install node_modules/.bin/node (the "node" devDependency)');
  recordInstalledLock();
  return true;
}

function onProjectNode() {
  return Number(process.versions.node.split('.')[0]) === REQUIRED_NODE_MAJOR;
}

/**
 * Re-runs the current script on the project's Node 24 when this process is another version,
 * forwarding arguments, signals and the exit status. Returns false when already on Node 24.
 */
function reexecOnProjectNode(nodeArgs = []) {
  if (onProjectNode()) return false;
  const child = spawn(LOCAL_NODE, [...nodeArgs, process.argv[1], ...process.argv.slice(2)], { stdio: 'inherit' });
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal));
  child.on('exit', (code, signal) => {
    if (signal) process.kill(process.pid, signal);
    else process.exit(code ?? 1);
  });
  return true;
}

/**
 * A script's entry: on the project's Node, runs `main` and exits 0 when it resolves, 1 with the
 * error's stack when it rejects; on another Node, re-runs the script there (reexecOnProjectNode).
 */
function runMainOnProjectNode(main) {
  if (reexecOnProjectNode()) return;
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error instanceof Error ? error.stack : error);
      process.exit(1);
    },
  );
}

module.exports = {
  ROOT,
  LOCAL_NODE,
  REQUIRED_NODE_MAJOR,
  dependenciesStale,
  ensureDependencies,
  onProjectNode,
  reexecOnProjectNode,
  recordInstalledLock,
  runMainOnProjectNode,
};
