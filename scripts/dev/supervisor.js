'use strict';
/**
 * The launcher's children and their orderly stop. Everything it starts is kept, in start order,
 * so that shutdown can go in reverse: apps first, then services. Also the launcher state file,
 * which names the processes a running launcher owns, so that a later run can refuse to start
 * twice on one data dir and can clean up after a launcher that was killed with SIGKILL (its
 * detached children would otherwise keep the ports).
 */
const { spawn } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const readline = require('node:readline');
const { ROOT } = require('../lib/project-node');
const { CANCELLED, LauncherError, intSetting, isAlive, processMatches, say, sleep, tag, warn } = require('./common');

// Ctrl-C under `npm run` arrives twice within milliseconds (from the terminal and forwarded by
// npm); only a second press after this long means "force".
const SIGNAL_BURST_MS = 1500;
const SERVICE_STOP_TIMEOUT_MS = 15_000;
const TASK_STOP_TIMEOUT_MS = 10_000;

const children = [];
let shutdown = null; // { startedAt, promise } once stopping has begun
let stateFile = null;

/** Has stopping begun? (A failing start-up step then has nothing more to report.) */
function isStopping() {
  return shutdown !== null;
}

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

function isSuccess(exit) {
  return !!exit && !exit.error && exit.code === 0;
}

/** Runs a task to completion; resolves to its exit. */
async function runTask(name, command, args, options = {}) {
  const child = startChild(name, 'task', command, args, options);
  const exit = await child.exited;
  if (shutdown) throw CANCELLED;
  return exit;
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

module.exports = {
  isStopping,
  startChild,
  describeExit,
  isSuccess,
  runTask,
  waitUntil,
  signalChild,
  requestShutdown,
  installSignalHandlers,
  claimState,
};
