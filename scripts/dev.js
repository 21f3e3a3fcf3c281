#!/usr/bin/env node
'use strict';
/**
 * `npm run dev`: one command from a fresh clone to a running Conveyor (API + worker).
 *
 *   1. installs dependencies when needed and continues on the project's Node 24
 *   2. builds the apps when sources are newer than dist/ (skip with --no-build)
 *   3. loads .env (the real environment wins)
 *   4. database: DATABASE_URL / DB_HOST if set, else an embedded PostgreSQL (PGlite)
 *   5. redis: REDIS_URL / REDIS_HOST if set, else 127.0.0.1:6379 if it answers, else its own
 *      redis-server on port 63790
 *   6. applies migrations, starts the API and the worker, waits until both are ready
 *   7. Ctrl-C stops everything gracefully, in order: apps first, then the services
 *
 * Flags: --no-build, --check (start everything, print the banner, stop cleanly: for tests).
 * Environment: PORT, WORKER_HEALTH_PORT, LOG_LEVEL, NODE_ENV, SHUTDOWN_GRACE_MS (as the apps),
 * LOG_PRETTY (1: readable log lines through pino-pretty, 0: the apps' JSON; default: readable on
 * a terminal, see scripts/lib/dev-log-format.js),
 * DEV_DATA_DIR (default <project>/data), EMBEDDED_PG_PORT (54329), DEV_REDIS_PORT (63790),
 * DEV_READY_TIMEOUT_MS (60000).
 *
 * Plain CommonJS without dependencies until step 4, because a fresh clone runs it on whatever
 * `node` is on PATH (Node 20 on our machines) before node_modules exists. POSIX only (signals,
 * process groups).
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const readline = require('node:readline');
const tls = require('node:tls');

const projectNode = require('./lib/project-node');

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

// Ctrl-C under `npm run` arrives twice within milliseconds (from the terminal and forwarded by
// npm); only a second press after this long means "force".
const SIGNAL_BURST_MS = 1500;
const SERVICE_STOP_TIMEOUT_MS = 15_000;
const TASK_STOP_TIMEOUT_MS = 10_000;

const USAGE = `Usage: npm run dev [-- --no-build] [-- --check]

  --no-build   use dist/ as it is, even when sources are newer
  --check      start everything, print the banner, then stop cleanly (exit 0 on success)
`;

// ---------------------------------------------------------------------------------------------
// Output

const useColor = process.stdout.isTTY && !process.env.NO_COLOR && process.env.TERM !== 'dumb';
const COLORS = { dev: 32, api: 36, worker: 35, postgres: 34, redis: 31, migrate: 33 };

function tag(name) {
  const text = `[${name}]`;
  return useColor && COLORS[name] ? `\x1b[${COLORS[name]}m${text}\x1b[0m` : text;
}

function say(message) {
  process.stdout.write(`${tag('dev')} ${message}\n`);
}

function warn(message) {
  process.stderr.write(`${tag('dev')} ${message}\n`);
}

/** A failure the user can act on: printed as is, without a stack trace. */
class LauncherError extends Error {}
/** Thrown by startup steps that notice a shutdown has begun; not an error to report. */
const CANCELLED = Symbol('cancelled');

function parseArgs(argv) {
  const options = { build: true, check: false };
  for (const arg of argv) {
    if (arg === '--no-build') options.build = false;
    else if (arg === '--check') options.check = true;
    else if (arg === '--help' || arg === '-h') {
      process.stdout.write(USAGE);
      process.exit(0);
    } else {
      process.stderr.write(`Unknown option: ${arg}\n\n${USAGE}`);
      process.exit(2);
    }
  }
  return options;
}

// ---------------------------------------------------------------------------------------------
// Small helpers

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

function mtimeMs(file) {
  try {
    return fs.statSync(file).mtimeMs;
  } catch {
    return null;
  }
}

function intSetting(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (!/^\d+$/.test(raw)) throw new LauncherError(`${name} must be a non-negative integer, got "${raw}"`);
  return Number(raw);
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return err.code === 'EPERM';
  }
}

/** Is `pid` alive and running a command line containing `needle`? null when we cannot tell. */
function processMatches(pid, needle) {
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return false;
  try {
    return fs.readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(needle);
  } catch {
    return null; // no /proc (macOS): alive, but we cannot say what it is
  }
}

function findOnPath(command) {
  for (const dir of (process.env.PATH || '').split(path.delimiter)) {
    if (!dir) continue;
    const candidate = path.join(dir, command);
    try {
      fs.accessSync(candidate, fs.constants.X_OK);
      if (fs.statSync(candidate).isFile()) return candidate;
    } catch {
      // not here
    }
  }
  return null;
}

/** The URL with its password replaced, for printing. */
function redactUrl(raw) {
  try {
    const url = new URL(raw);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparsable URL)';
  }
}

function relativeToRoot(file) {
  const rel = path.relative(ROOT, file);
  return rel && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : file;
}

/** Does something accept TCP connections on host:port? */
function probeTcp(host, port, timeoutMs = 1000) {
  return new Promise((resolve) => {
    const socket = net.connect({ host, port });
    const done = (ok) => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/** RESP-encodes a command (needed for AUTH, whose arguments may contain spaces). */
function respCommand(...parts) {
  return `*${parts.length}\r\n${parts.map((p) => `$${Buffer.byteLength(p)}\r\n${p}\r\n`).join('')}`;
}

/**
 * PINGs a Redis server (AUTH first when the URL carries credentials). Resolves to null when it
 * answers +PONG, otherwise to a short reason. TLS certificates are not verified: this only asks
 * whether the server is there; the apps connect with their own settings.
 */
function redisPing({ host, port, username, password, tls: useTls }, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const socket = useTls ? tls.connect({ host, port, servername: host, rejectUnauthorized: false }) : net.connect({ host, port });
    const expected = password ? 2 : 1;
    let buffer = '';
    let settled = false;
    const finish = (reason) => {
      if (settled) return;
      settled = true;
      socket.destroy();
      resolve(reason);
    };
    socket.setTimeout(timeoutMs, () => finish('no answer (timeout)'));
    socket.once(useTls ? 'secureConnect' : 'connect', () => {
      let request = '';
      if (password) request += username ? respCommand('AUTH', username, password) : respCommand('AUTH', password);
      socket.write(`${request}PING\r\n`);
    });
    socket.on('data', (chunk) => {
      buffer += chunk.toString('utf8');
      const lines = buffer.split('\r\n').slice(0, -1);
      const failure = lines.find((line) => line.startsWith('-'));
      if (failure) finish(failure.slice(1));
      else if (lines.length >= expected) finish(lines[expected - 1] === '+PONG' ? null : `unexpected reply ${lines[expected - 1]}`);
    });
    socket.once('error', (err) => finish(err.code || err.message));
    socket.once('close', () => finish('connection closed'));
  });
}

function redisTargetFromUrl(raw) {
  const url = new URL(raw);
  return {
    host: url.hostname.replace(/^\[|\]$/g, '') || '127.0.0.1',
    port: Number(url.port || 6379),
    username: decodeURIComponent(url.username || ''),
    password: decodeURIComponent(url.password || ''),
    tls: url.protocol === 'rediss:',
  };
}

/** GET url; resolves to the status code, or 0 when nothing answered. */
function httpStatus(url, timeoutMs = 2000) {
  return new Promise((resolve) => {
    const req = http.get(url, { timeout: timeoutMs }, (res) => {
      res.resume();
      resolve(res.statusCode);
    });
    req.once('timeout', () => req.destroy());
    req.once('error', () => resolve(0));
  });
}

// ---------------------------------------------------------------------------------------------
// Child processes

/** Everything the launcher started, in start order, so that shutdown can go in reverse. */
const children = [];
let shutdown = null; // { startedAt, promise } once stopping has begun
let stateFile = null;

/**
 * Starts a child process.
 * kind 'task': a step that runs to completion (npm ci, build, migrate).
 * kind 'service': redis-server / embedded PostgreSQL, stopped last.
 * kind 'app': the API and the worker, stopped first.
 * Services and apps get their own process group (detached) so that Ctrl-C in the terminal
 * reaches only the launcher, which then stops them once and in order: a second signal would make
 * a Nest app skip its graceful shutdown, and Redis/PostgreSQL must outlive the apps' draining.
 */
function startChild(name, kind, command, args, { env = process.env, prefixOutput = true, stdin = 'ignore', match, format = (line) => [line] } = {}) {
  if (shutdown) throw CANCELLED;
  const proc = spawn(command, args, {
    cwd: ROOT,
    env,
    stdio: prefixOutput ? [stdin, 'pipe', 'pipe'] : 'inherit',
    detached: kind !== 'task',
  });
  const child = { name, kind, proc, match: match || command, exit: null, stopRequested: false };
  child.exited = new Promise((resolve) => {
    const settle = (exit) => {
      if (child.exit) return;
      child.exit = exit;
      resolve(exit);
    };
    // 'close' comes after the output pipes are drained, so no last lines are lost; a forked
    // grandchild (Redis's background save) may hold the pipes a little longer, hence the fallback.
    proc.once('close', (code, signal) => settle({ code, signal }));
    proc.once('exit', (code, signal) => setTimeout(() => settle({ code, signal }), 1000).unref());
    // spawn failures (ENOENT, EACCES) may come without an 'exit' event.
    proc.once('error', (err) => settle({ code: null, signal: null, error: err }));
  });
  if (prefixOutput) {
    const prefix = `${tag(name)} `;
    // Line-buffered so that the two apps' lines never interleave mid-line.
    const print = (stream) => (line) =>
      stream.write(
        format(line)
          .map((text) => `${prefix}${text}\n`)
          .join(''),
      );
    readline.createInterface({ input: proc.stdout, crlfDelay: Infinity }).on('line', print(process.stdout));
    readline.createInterface({ input: proc.stderr, crlfDelay: Infinity }).on('line', print(process.stderr));
  }
  children.push(child);
  saveState();
  child.exited.then((exit) => {
    saveState();
    if (!shutdown && !child.stopRequested && kind !== 'task') {
      // An app or service that dies on its own takes the whole dev stack down with it.
      warn(`${name} exited unexpectedly (${describeExit(exit)}); stopping everything`);
      requestShutdown(`${name} exited`, 1);
    }
  });
  return child;
}

function describeExit(exit) {
  if (!exit) return 'still running';
  if (exit.error) return exit.error.message;
  return exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code}`;
}

/** Nest re-raises SIGTERM after its shutdown hooks, so "killed by SIGTERM" (143) is a clean stop. */
function isCleanStop(exit) {
  if (!exit || exit.error) return false;
  return exit.code === 0 || exit.signal === 'SIGTERM' || exit.signal === 'SIGINT' || exit.code === 143 || exit.code === 130;
}

/** Runs a task to completion; resolves to its exit. */
async function runTask(name, command, args, options = {}) {
  const child = startChild(name, 'task', command, args, options);
  const exit = await child.exited;
  if (shutdown) throw CANCELLED;
  return exit;
}

function signalChild(child, signal) {
  if (child.exit) return;
  try {
    child.proc.kill(signal);
  } catch {
    // already gone
  }
}

/** Waits for children to exit; SIGKILLs those still running after timeoutMs. Returns the killed. */
async function waitOrKill(list, timeoutMs) {
  let timer;
  const timeout = new Promise((resolve) => {
    timer = setTimeout(resolve, timeoutMs);
  });
  await Promise.race([Promise.all(list.map((c) => c.exited)), timeout]);
  clearTimeout(timer);
  const stragglers = list.filter((c) => !c.exit);
  for (const child of stragglers) {
    warn(`${child.name} did not stop within ${Math.round(timeoutMs / 1000)} s; killing it`);
    signalChild(child, 'SIGKILL');
  }
  await Promise.all(stragglers.map((c) => c.exited));
  return stragglers;
}

/**
 * Stops everything, apps first (they drain in-flight work and still need Redis and the
 * database), then the services in reverse start order; then exits with exitCode, or 1 when
 * `strict` and something did not stop cleanly.
 */
function requestShutdown(reason, exitCode, { strict = false } = {}) {
  if (shutdown) return shutdown.promise;
  shutdown = { startedAt: Date.now() };
  shutdown.promise = (async () => {
    let clean = true;
    const running = (kind) => children.filter((c) => c.kind === kind && !c.exit);

    const tasks = running('task');
    tasks.forEach((c) => signalChild(c, 'SIGTERM'));
    await waitOrKill(tasks, TASK_STOP_TIMEOUT_MS);

    const apps = running('app');
    if (apps.length) {
      const graceMs = safeInt('SHUTDOWN_GRACE_MS', 30_000) + 5_000;
      say(`stopping ${apps.map((c) => c.name).join(' and ')} (${reason}; waiting up to ${Math.round(graceMs / 1000)} s)`);
      for (const child of apps) {
        child.stopRequested = true;
        signalChild(child, 'SIGTERM');
      }
      if ((await waitOrKill(apps, graceMs)).length) clean = false;
      for (const child of apps) {
        if (isCleanStop(child.exit)) say(`${child.name} stopped`);
        else {
          clean = false;
          warn(`${child.name} stopped with ${describeExit(child.exit)}`);
        }
      }
    }

    for (const child of running('service').reverse()) {
      child.stopRequested = true;
      say(`stopping ${child.name}`);
      signalChild(child, 'SIGTERM');
      if ((await waitOrKill([child], SERVICE_STOP_TIMEOUT_MS)).length || !isCleanStop(child.exit)) {
        clean = false;
        warn(`${child.name} stopped with ${describeExit(child.exit)}`);
      }
    }

    removeState();
    const code = strict && !clean && exitCode === 0 ? 1 : exitCode;
    if (code === 0) say('all stopped');
    process.exit(code);
  })();
  return shutdown.promise;
}

function safeInt(name, fallback) {
  try {
    return intSetting(name, fallback);
  } catch {
    return fallback;
  }
}

function onSignal(signal) {
  if (!shutdown) {
    say(`${signal} received: stopping (press Ctrl-C again to force)`);
    requestShutdown(signal, 0);
    return;
  }
  if (Date.now() - shutdown.startedAt < SIGNAL_BURST_MS) return; // the same Ctrl-C, delivered twice
  warn('forced stop: killing the apps; the services are asked to stop');
  for (const child of children) {
    // Services still get SIGTERM: Redis and PGlite lose recent writes when killed.
    signalChild(child, child.kind === 'service' ? 'SIGTERM' : 'SIGKILL');
  }
  process.exit(130);
}

function installSignalHandlers() {
  // A reader that goes away (`npm run dev | head`, a closed terminal) must not turn every later
  // write into an error: the launcher still has children to stop.
  for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => onSignal(signal));
  // Last resort if the launcher itself crashes: detached children would otherwise live on.
  process.on('exit', () => {
    for (const child of children) signalChild(child, 'SIGTERM');
  });
  let internalErrors = 0;
  const onInternalError = (err) => {
    // Report a few, not an endless stream if the failure repeats.
    if (++internalErrors <= 3) warn(`internal error: ${(err && err.stack) || err}`);
    requestShutdown('internal error', 1);
  };
  process.on('uncaughtException', onInternalError);
  process.on('unhandledRejection', onInternalError);
}

// ---------------------------------------------------------------------------------------------
// Launcher state: which processes a running launcher owns, so that a later run can refuse to
// start twice on one data dir and can clean up after a launcher that was killed with SIGKILL
// (its detached children would otherwise keep the ports).

function saveState() {
  if (!stateFile) return;
  const owned = children.filter((c) => c.kind !== 'task' && !c.exit && c.proc.pid).map((c) => ({ name: c.name, pid: c.proc.pid, match: c.match }));
  try {
    fs.writeFileSync(stateFile, `${JSON.stringify({ pid: process.pid, children: owned }, null, 2)}\n`);
  } catch (err) {
    warn(`cannot write ${stateFile}: ${err.message}`);
  }
}

function removeState() {
  if (stateFile) fs.rmSync(stateFile, { force: true });
}

async function claimState(dataDir) {
  fs.mkdirSync(dataDir, { recursive: true });
  const file = path.join(dataDir, 'dev-launcher.json');
  let previous = null;
  try {
    previous = JSON.parse(fs.readFileSync(file, 'utf8'));
  } catch {
    // none, or unreadable: nothing to clean up
  }
  if (previous && previous.pid !== process.pid && processMatches(previous.pid, 'dev.js') !== false) {
    throw new LauncherError(
      `another dev launcher (pid ${previous.pid}) is running with data dir ${dataDir}. ` +
        `Stop it first, or use another DEV_DATA_DIR. (If it is not running, delete ${file}.)`,
    );
  }
  const leftovers = ((previous && previous.children) || []).filter((c) => processMatches(c.pid, c.match));
  if (leftovers.length) {
    warn(`stopping processes left by a previous launcher: ${leftovers.map((c) => `${c.name} (pid ${c.pid})`).join(', ')}`);
    for (const c of leftovers) process.kill(c.pid, 'SIGTERM');
    const deadline = Date.now() + SERVICE_STOP_TIMEOUT_MS;
    while (leftovers.some((c) => isAlive(c.pid)) && Date.now() < deadline) await sleep(200);
    for (const c of leftovers.filter((l) => isAlive(l.pid))) process.kill(c.pid, 'SIGKILL');
  }
  stateFile = file;
  saveState();
}

// ---------------------------------------------------------------------------------------------
// Steps

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

function isSuccess(exit) {
  return !!exit && !exit.error && exit.code === 0;
}

/**
 * The apps need Node 24, which the `node` devDependency provides. When started by an older
 * system node (a fresh clone before node_modules existed), run this script again on Node 24 and
 * pass signals and the exit code through.
 */
function reexecOnLocalNode() {
  if (process.env[REEXEC_MARKER]) {
    throw new LauncherError(`${LOCAL_NODE} is Node ${process.versions.node}, not ${REQUIRED_NODE_MAJOR}; run npm ci`);
  }
  say(`continuing on Node ${REQUIRED_NODE_MAJOR} from node_modules (this is Node ${process.versions.node})`);
  const child = spawn(LOCAL_NODE, [__filename, ...process.argv.slice(2)], {
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

/** Step 3: .env fills gaps; variables already set in the real environment win. */
function loadDotEnv() {
  const file = path.join(ROOT, '.env');
  if (!fs.existsSync(file)) return;
  try {
    process.loadEnvFile(file); // never overrides variables that are already set
  } catch (err) {
    throw new LauncherError(`cannot read .env: ${err.message}`);
  }
  say('loaded .env');
}

/** Step 4: the database. Returns { env, description } for the apps. */
async function setUpDatabase(dataDir) {
  const configuredUrl = process.env.DATABASE_URL;
  if (configuredUrl || process.env.DB_HOST) {
    let host;
    let port;
    let description;
    if (configuredUrl) {
      let url;
      try {
        url = new URL(configuredUrl);
      } catch {
        throw new LauncherError('DATABASE_URL is not a valid URL');
      }
      host = url.hostname.replace(/^\[|\]$/g, '');
      port = Number(url.port || (url.protocol.startsWith('postgres') ? 5432 : 3306));
      description = redactUrl(configuredUrl);
    } else {
      const type = process.env.DB_TYPE || 'postgres';
      host = process.env.DB_HOST;
      port = Number(process.env.DB_PORT || (type === 'postgres' ? 5432 : 3306));
      description = `${type} at ${host}:${port}/${process.env.DB_DATABASE || ''} (DB_HOST)`;
    }
    // A clear message now beats a connection error from deep inside the migration run.
    if (!(await probeTcp(host, port, 3000))) {
      throw new LauncherError(`the database ${description} does not accept connections on ${host}:${port}`);
    }
    return { env: {}, description };
  }

  const port = intSetting('EMBEDDED_PG_PORT', 54329);
  const pgDataDir = path.join(dataDir, 'pglite');
  // Something already answers there, most likely another launcher's embedded database (one with
  // another DEV_DATA_DIR): our own server could not bind, and the readiness probe below would
  // happily talk to theirs. Refuse rather than share another launcher's data without a word.
  if (await probeTcp('127.0.0.1', port)) {
    throw new LauncherError(
      `port ${port} (embedded PostgreSQL) is already in use, probably by another dev launcher's embedded database; ` +
        'set EMBEDDED_PG_PORT to a free port, or DATABASE_URL to share a database on purpose',
    );
  }
  const url = `postgres://postgres:postgres@127.0.0.1:${port}/postgres`;
  say(`no DATABASE_URL: starting embedded PostgreSQL (PGlite) on 127.0.0.1:${port}, data in ${relativeToRoot(pgDataDir)}`);
  const child = startChild('postgres', 'service', process.execPath, [path.join(__dirname, 'embedded-postgres.js'), '--exit-with-parent'], {
    // Its stdin stays open for as long as we live: if we are SIGKILLed it sees EOF and stops.
    stdin: 'pipe',
    match: 'embedded-postgres.js',
    env: {
      ...process.env,
      EMBEDDED_PG_DATA_DIR: pgDataDir,
      EMBEDDED_PG_HOST: '127.0.0.1',
      EMBEDDED_PG_PORT: String(port),
    },
  });
  // The first run initialises the cluster, which takes a few seconds.
  await waitUntil('embedded PostgreSQL', child, 120_000, async () => {
    if (!(await probeTcp('127.0.0.1', port))) return false;
    return pgSelectOne(url);
  });
  return {
    // PGlite runs one query at a time, so big pools only queue; small ones keep headroom under
    // the server's connection limit for psql and the like.
    env: { DATABASE_URL: url, DB_POOL_SIZE: process.env.DB_POOL_SIZE || '5' },
    description: `embedded PostgreSQL (PGlite) at ${url}, data in ${relativeToRoot(pgDataDir)}`,
  };
}

async function pgSelectOne(url) {
  const { Client } = require(require.resolve('pg', { paths: [ROOT] }));
  const client = new Client({ connectionString: url, connectionTimeoutMillis: 3000 });
  client.on('error', () => {}); // reported through the awaited calls below
  try {
    await client.connect();
    await client.query('select 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

/** Polls check() until it is true; fails if child exits first or the time runs out. */
async function waitUntil(what, child, timeoutMs, check) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    if (shutdown) throw CANCELLED;
    if (child && child.exit) throw new LauncherError(`${what} exited before it was ready (${describeExit(child.exit)})`);
    if (await check()) return;
    if (Date.now() > deadline) throw new LauncherError(`${what} was not ready after ${Math.round(timeoutMs / 1000)} s`);
    await sleep(250);
  }
}

/** Step 5: Redis. Returns { env, description } for the apps. */
async function setUpRedis(dataDir) {
  if (process.env.REDIS_URL) {
    const description = redactUrl(process.env.REDIS_URL);
    let target;
    try {
      target = redisTargetFromUrl(process.env.REDIS_URL);
    } catch {
      throw new LauncherError('REDIS_URL is not a valid URL');
    }
    const problem = await redisPing(target);
    // Configured explicitly: falling back to another Redis would hide the mistake.
    if (problem) throw new LauncherError(`REDIS_URL ${description} does not answer PING: ${problem}`);
    return { env: {}, description };
  }
  if (process.env.REDIS_HOST) {
    const target = {
      host: process.env.REDIS_HOST,
      port: Number(process.env.REDIS_PORT || 6379),
      password: process.env.REDIS_PASSWORD || '',
      tls: /^(1|true|yes|on)$/i.test(process.env.REDIS_TLS || ''),
    };
    const description = `${target.host}:${target.port} (REDIS_HOST)`;
    const problem = await redisPing(target);
    if (problem) throw new LauncherError(`Redis at ${description} does not answer PING: ${problem}`);
    return { env: {}, description };
  }

  const local = 'redis://127.0.0.1:6379';
  if (!(await redisPing(redisTargetFromUrl(local)))) {
    return { env: { REDIS_URL: local }, description: `${local} (already running)` };
  }

  const redisServer = findOnPath('redis-server');
  if (!redisServer) {
    throw new LauncherError(
      'Redis is needed and none was found: nothing answers on 127.0.0.1:6379 and redis-server is not installed.\n' +
        '  Install it:  apt-get install redis-server   (Debian/Ubuntu)\n' +
        '               brew install redis             (macOS)\n' +
        '  or point at one:  REDIS_URL=redis://host:6379 npm run dev',
    );
  }
  const port = intSetting('DEV_REDIS_PORT', 63790);
  if (await probeTcp('127.0.0.1', port)) {
    throw new LauncherError(`port ${port} is already in use, so redis-server cannot start there; set DEV_REDIS_PORT or REDIS_URL`);
  }
  const redisDir = path.join(dataDir, 'redis');
  fs.mkdirSync(redisDir, { recursive: true });
  say(`no Redis on 127.0.0.1:6379: starting redis-server on 127.0.0.1:${port}, data in ${relativeToRoot(redisDir)}`);
  const child = startChild(
    'redis',
    'service',
    redisServer,
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--dir',
      redisDir,
      // Queued jobs survive a restart; BullMQ requires that keys are never evicted.
      '--appendonly',
      'yes',
      '--appendfsync',
      'everysec',
      '--maxmemory-policy',
      'noeviction',
      '--daemonize',
      'no',
      // Its start-up notices would drown the apps' first lines; warnings still show.
      '--loglevel',
      'warning',
    ],
    { match: 'redis-server' },
  );
  const url = `redis://127.0.0.1:${port}`;
  await waitUntil('redis-server', child, 20_000, async () => !(await redisPing(redisTargetFromUrl(url))));
  return { env: { REDIS_URL: url }, description: `redis-server started on ${url}, data in ${relativeToRoot(redisDir)}` };
}

/** Step 6a: migrations, before either app starts. */
async function runMigrations(env) {
  say('applying database migrations');
  const exit = await runTask('migrate', process.execPath, [ENTRY.migrate], { env });
  if (!isSuccess(exit)) throw new LauncherError(`migrations failed (${describeExit(exit)}); see the [migrate] lines above`);
}

/** Step 6b: both apps, then wait until both report ready. */
async function startApps(env, ports) {
  // Loaded here, not at the top: the launcher runs without node_modules until step 4.
  const { lineFormatter, wantsPretty } = require('./lib/dev-log-format');
  const format = lineFormatter({
    pretty: wantsPretty(process.env, process.stdout.isTTY),
    colorize: useColor,
    onMissing: () => warn('LOG_PRETTY: pino-pretty is not installed (a devDependency); showing the JSON lines'),
  });
  startChild('api', 'app', process.execPath, [ENTRY.api], { env, match: ENTRY.api, format });
  startChild('worker', 'app', process.execPath, [ENTRY.worker], { env, match: ENTRY.worker, format });
  const timeoutMs = intSetting('DEV_READY_TIMEOUT_MS', 60_000);
  const urls = [`http://127.0.0.1:${ports.api}/health/ready`, `http://127.0.0.1:${ports.worker}/health/ready`];
  // An app that dies meanwhile starts the shutdown (see startChild), which ends this wait.
  await waitUntil('the API and the worker', null, timeoutMs, async () => {
    const statuses = await Promise.all(urls.map((url) => httpStatus(url)));
    return statuses.every((status) => status === 200);
  });
}

/**
 * Every /v1 route needs an API key. Without CONVEYOR_ADMIN_KEY the launcher makes one for this
 * data directory (kept in <data>/dev-admin-key, readable by the owner only) so the Quickstart
 * works at once; set your own in .env to choose it.
 */
function devAdminKey(dataDir) {
  if (process.env.CONVEYOR_ADMIN_KEY) return { key: process.env.CONVEYOR_ADMIN_KEY, generated: false };
  const file = path.join(dataDir, 'dev-admin-key');
  try {
    return { key: fs.readFileSync(file, 'utf8').trim(), generated: true };
  } catch {
    const key = require('node:crypto').randomBytes(24).toString('hex');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, `${key}\n`, { mode: 0o600 });
    return { key, generated: true };
  }
}

/**
 * Webhook signing secrets are stored sealed under WEBHOOK_SECRET_KEY. Without one the launcher
 * makes one for this data directory (<data>/dev-webhook-secret-key, owner-only), so the dev
 * stack stores no secret in plain text and keeps opening them across restarts.
 */
function devWebhookSecretKey(dataDir) {
  if (process.env.WEBHOOK_SECRET_KEY) return process.env.WEBHOOK_SECRET_KEY;
  const file = path.join(dataDir, 'dev-webhook-secret-key');
  try {
    return fs.readFileSync(file, 'utf8').trim();
  } catch {
    const key = require('node:crypto').randomBytes(32).toString('base64');
    fs.mkdirSync(dataDir, { recursive: true });
    fs.writeFileSync(file, `${key}\n`, { mode: 0o600 });
    return key;
  }
}

function printBanner({ ports, database, redis, adminKey }) {
  const api = `http://localhost:${ports.api}`;
  const worker = `http://localhost:${ports.worker}`;
  const rule = '─'.repeat(78);
  const rows = [
    ['API', api],
    [
      'Admin API key',
      adminKey.generated ? `${adminKey.key}  (generated; also in ${relativeToRoot(path.join(adminKey.dataDir, 'dev-admin-key'))})` : 'CONVEYOR_ADMIN_KEY',
    ],
    [
      'Create a task',
      `curl -s -X POST localhost:${ports.api}/v1/tasks -H 'authorization: Bearer ${adminKey.generated ? adminKey.key : '$CONVEYOR_ADMIN_KEY'}' ` +
        `-H 'content-type: application/json' -d '{"type":"system.sleep","payload":{"ms":300}}'`,
    ],
    ['Console', `${api}/console/  (sign in with the admin key)`],
    ['API docs', `${api}/docs`],
    ['Queue dashboard', `${api}/admin/queues`],
    ['Worker health', `${worker}/health/ready`],
    ['Metrics', `${api}/metrics (API)   ${worker}/metrics (worker)`],
    ['Database', database.description],
    ['Redis', redis.description],
    ['Stop', 'Ctrl-C'],
  ];
  const lines = [rule, ' Conveyor is running', '', ...rows.map(([k, v]) => `  ${k.padEnd(16)}${v}`), rule];
  process.stdout.write(`${lines.join('\n')}\n`);
}

// ---------------------------------------------------------------------------------------------

async function main() {
  const options = parseArgs(process.argv.slice(2));
  installSignalHandlers();

  await ensureDependencies();
  if (Number(process.versions.node.split('.')[0]) !== REQUIRED_NODE_MAJOR) {
    // Hand over to Node 24; this process only forwards signals and the exit code from here on.
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeAllListeners(signal);
    reexecOnLocalNode();
    return;
  }

  await buildIfStale(options);
  loadDotEnv();

  const dataDir = path.resolve(process.env.DEV_DATA_DIR || path.join(ROOT, 'data'));
  const ports = { api: intSetting('PORT', 3000), worker: intSetting('WORKER_HEALTH_PORT', 3001) };
  await claimState(dataDir);
  // Before starting anything: an app that cannot bind its port would only fail later, obscurely.
  for (const [name, port, variable] of [
    ['API', ports.api, 'PORT'],
    ['worker health', ports.worker, 'WORKER_HEALTH_PORT'],
  ]) {
    if (await probeTcp('127.0.0.1', port)) throw new LauncherError(`port ${port} (${name}) is already in use; stop what uses it or set ${variable}`);
  }

  const database = await setUpDatabase(dataDir);
  const redis = await setUpRedis(dataDir);
  const adminKey = { ...devAdminKey(dataDir), dataDir };
  const env = { ...process.env };
  delete env[REEXEC_MARKER];
  Object.assign(env, {
    NODE_ENV: process.env.NODE_ENV || 'development',
    LOG_LEVEL: process.env.LOG_LEVEL || 'info',
    PORT: String(ports.api),
    WORKER_HEALTH_PORT: String(ports.worker),
    // Uploads and results go with the rest of the dev data (same place as the apps' default
    // ./data/storage unless DEV_DATA_DIR moves it).
    STORAGE_DIR: process.env.STORAGE_DIR || path.join(dataDir, 'storage'),
    CONVEYOR_ADMIN_KEY: adminKey.key,
    WEBHOOK_SECRET_KEY: devWebhookSecretKey(dataDir),
    ...database.env,
    ...redis.env,
  });

  await runMigrations(env);
  await startApps(env, ports);
  printBanner({ ports, database, redis, adminKey });

  if (options.check) {
    say('--check: everything is up; stopping');
    await requestShutdown('--check finished', 0, { strict: true });
  }
}

main().catch((err) => {
  if (err === CANCELLED || shutdown) return; // a shutdown is already under way
  warn(err instanceof LauncherError ? err.message : `internal error: ${err.stack || err}`);
  requestShutdown('start-up failed', 1);
});
