'use strict';
/**
 * Process and resource bookkeeping for the benchmark suite: every child process, database and
 * BullMQ prefix a run creates is registered here and removed by `cleanup()`, which runs on a
 * normal end, on an error and on SIGINT/SIGTERM/SIGHUP. Only 127.0.0.1 is ever targeted.
 */
const { spawn, execFileSync } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const { randomBytes } = require('node:crypto');

const ROOT = path.join(__dirname, '..', '..');
const HOST = '127.0.0.1';
const REDIS_URL = process.env.BENCH_REDIS_URL ?? `redis://${HOST}:6379`;
const POSTGRES_ADMIN_URL = process.env.BENCH_POSTGRES_URL ?? `postgres://postgres@${HOST}:5432/postgres`;
const MYSQL_ADMIN_URL = process.env.BENCH_MYSQL_URL ?? `mysql://root@${HOST}:3306/test`;

const ENTRIES = {
  api: 'apps/api/apps/api/src/main.js',
  worker: 'apps/worker/apps/worker/src/main.js',
  migrate: 'apps/api/apps/api/src/migrate.js',
};
/** Entry points of the built apps; `snapshotDist` repoints them at the run's own copy. */
const APP_ENTRY = Object.fromEntries(Object.entries(ENTRIES).map(([k, v]) => [k, path.join(ROOT, 'dist', v)]));

/** Points every app entry at the build in `distDir` (a `dist` folder: the project's, a snapshot's or another build's). */
function useDist(distDir) {
  for (const [key, entry] of Object.entries(ENTRIES)) APP_ENTRY[key] = path.join(distDir, entry);
}

for (const url of [REDIS_URL, POSTGRES_ADMIN_URL, MYSQL_ADMIN_URL]) {
  const { hostname } = new URL(url);
  if (hostname !== HOST && hostname !== 'localhost') throw new Error(`benchmarks only target ${HOST}; refusing ${url}`);
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const uniqueName = (prefix) => `${prefix}_${Date.now().toString(36)}_${randomBytes(3).toString('hex')}`;

function freePort() {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.once('error', reject);
    server.listen(0, HOST, () => {
      const { port } = server.address();
      server.close(() => resolve(port));
    });
  });
}

/** Whether `taskset` can pin here (Linux, util-linux present, more than one CPU). */
const CAN_PIN = (() => {
  if (os.platform() !== 'linux' || os.cpus().length < 2) return false;
  try {
    execFileSync('taskset', ['-p', String(process.pid)], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
})();

class Run {
  constructor({ keepLogs = false, log = (line) => process.stderr.write(`${line}\n`) } = {}) {
    this.children = new Set();
    /** Every process this run started (name, pid), for the record. */
    this.spawned = [];
    this.cleanups = [];
    this.log = log;
    this.keepLogs = keepLogs;
    this.failed = false;
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'conveyor-bench-'));
    this.cleanedUp = null;
    this.onSignal = (signal) => {
      this.log(`\n${signal}: stopping every process this run started and removing its data…`);
      this.failed = true;
      this.cleanup().finally(() => process.exit(signal === 'SIGINT' ? 130 : 143));
    };
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, this.onSignal);
  }

  /** Registers an async cleanup step; they run newest first. */
  defer(what, fn) {
    this.cleanups.push({ what, fn });
  }

  /**
   * Starts `node <entry>` (the same Node as this process), pinned to `cpus` with taskset when
   * given. Output goes to a log file in the run directory (kept on failure).
   */
  spawnNode(name, entry, { env = {}, args = [], nodeArgs = [], cpus, pipeStdout = false } = {}) {
    const logFile = path.join(this.dir, `${name}.log`);
    const fd = fs.openSync(logFile, 'a');
    const command = [...nodeArgs, entry, ...args];
    const pinned = cpus !== undefined && CAN_PIN;
    const child = spawn(pinned ? 'taskset' : process.execPath, pinned ? ['-c', String(cpus), process.execPath, ...command] : command, {
      cwd: ROOT,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? os.tmpdir(), ENV_FILE: '/nonexistent', ...env },
      stdio: ['ignore', pipeStdout ? 'pipe' : fd, fd],
    });
    fs.closeSync(fd);
    const record = { name, child, logFile, exited: false, startedAt: Date.now() };
    record.exitPromise = new Promise((resolve) =>
      child.once('exit', (code, signal) => {
        record.exited = true;
        this.children.delete(record);
        resolve({ code, signal });
      }),
    );
    child.once('error', (error) => this.log(`${name}: ${error.message}`));
    this.children.add(record);
    record.pid = child.pid;
    this.spawned.push({ name, pid: child.pid });
    record.tail = (bytes = 4000) => tail(logFile, bytes);
    record.stop = (timeoutMs = 15_000) => this.stop(record, timeoutMs);
    return record;
  }

  /** SIGTERM, then SIGKILL after `timeoutMs`; resolves once the process is gone. */
  async stop(record, timeoutMs = 15_000) {
    if (record.exited) return record.exitPromise;
    try {
      record.child.kill('SIGTERM');
    } catch {
      // already gone
    }
    const timer = setTimeout(() => {
      try {
        record.child.kill('SIGKILL');
      } catch {
        // already gone
      }
    }, timeoutMs);
    try {
      return await record.exitPromise;
    } finally {
      clearTimeout(timer);
    }
  }

  async cleanup() {
    if (this.cleanedUp) return this.cleanedUp;
    this.cleanedUp = (async () => {
      await Promise.all([...this.children].map((record) => this.stop(record, 8000)));
      for (const { what, fn } of this.cleanups.reverse()) {
        try {
          await fn();
        } catch (error) {
          this.log(`cleanup (${what}) failed: ${error.message}`);
        }
      }
      for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.off(signal, this.onSignal);
      if (this.failed || this.keepLogs) this.log(`logs of this run: ${this.dir}`);
      else fs.rmSync(this.dir, { recursive: true, force: true });
    })();
    return this.cleanedUp;
  }
}

function tail(file, bytes) {
  try {
    const { size } = fs.statSync(file);
    const fd = fs.openSync(file, 'r');
    const length = Math.min(size, bytes);
    const buffer = Buffer.alloc(length);
    fs.readSync(fd, buffer, 0, length, size - length);
    fs.closeSync(fd);
    return buffer.toString('utf8');
  } catch {
    return '';
  }
}

function newestMtime(dir) {
  let newest = 0;
  let files = 0;
  for (const entry of fs.readdirSync(dir, { withFileTypes: true, recursive: true })) {
    if (!entry.isFile()) continue;
    files += 1;
    newest = Math.max(newest, fs.statSync(path.join(entry.parentPath, entry.name)).mtimeMs);
  }
  return { newest, files };
}

/**
 * Copies the built apps into the run directory and runs them from there: other engineers'
 * test runs rebuild dist/ (delete, then write) on this shared machine, which must not pull the
 * code out from under a benchmark that starts workers minutes later. The copy resolves its
 * packages through a node_modules symlink to the project's. Waits for a complete, quiet build.
 */
async function snapshotDist(run, distDir = path.join(ROOT, 'dist')) {
  const deadline = Date.now() + 120_000;
  for (;;) {
    const complete = Object.values(ENTRIES).every((entry) => fs.existsSync(path.join(distDir, entry)));
    if (complete) {
      const before = newestMtime(path.join(distDir, 'apps'));
      if (Date.now() - before.newest > 3000) {
        const target = path.join(run.dir, 'app');
        fs.rmSync(target, { recursive: true, force: true });
        fs.mkdirSync(target, { recursive: true });
        fs.cpSync(path.join(distDir, 'apps'), path.join(target, 'dist', 'apps'), { recursive: true });
        fs.symlinkSync(path.join(ROOT, 'node_modules'), path.join(target, 'node_modules'), 'dir');
        const after = newestMtime(path.join(distDir, 'apps'));
        const copied = newestMtime(path.join(target, 'dist', 'apps'));
        if (after.newest === before.newest && after.files === before.files && copied.files === before.files) {
          useDist(path.join(target, 'dist'));
          return target;
        }
      }
    } else if (Date.now() > deadline) {
      throw new Error(`no complete build in ${path.relative(ROOT, distDir) || distDir}: run \`npm run build\` first`);
    }
    if (Date.now() > deadline) throw new Error(`${distDir} kept changing for 2 minutes (someone rebuilding?)`);
    await sleep(1000);
  }
}

/**
 * A memory field of a process's /proc status in MB (VmRSS: resident now, VmHWM: peak, RssAnon:
 * the process's own memory, RssFile: mapped files such as the node binary); null elsewhere.
 */
function statusMb(pid, field) {
  try {
    return Math.round(Number(new RegExp(`${field}:\\s+(\\d+)`).exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'))[1]) / 102.4) / 10;
  } catch {
    return null;
  }
}
/** Resident memory of a process in MB, from /proc; null elsewhere. */
const rssMb = (pid) => statusMb(pid, 'VmRSS');
/** Peak resident memory of a process so far in MB, from /proc; null elsewhere. */
const peakRssMb = (pid) => statusMb(pid, 'VmHWM');

/** CPU time (user + system, ms) a process has used so far, from /proc; null elsewhere. */
function cpuMs(pid) {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1].split(' ');
    const ticks = Number(fields[11]) + Number(fields[12]);
    return (ticks * 1000) / CLOCK_TICKS;
  } catch {
    return null;
  }
}
const CLOCK_TICKS = (() => {
  try {
    return Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;
  } catch {
    return 100;
  }
})();

/** Polls `url` until it answers 200; fails early with the log tail if the process exits. */
async function waitReady(record, url, timeoutMs = 60_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (record.exited) throw new Error(`${record.name} exited before it was ready:\n${record.tail()}`);
    const ok = await fetch(url)
      .then((response) => response.status === 200)
      .catch(() => false);
    if (ok) return;
    await sleep(100);
  }
  throw new Error(`${record.name} not ready at ${url} within ${timeoutMs} ms:\n${record.tail()}`);
}

/** Waits for a line on the child's stdout (for processes spawned with pipeStdout). */
function waitForLine(record, pattern, timeoutMs = 30_000) {
  return new Promise((resolve, reject) => {
    let buffer = '';
    const timer = setTimeout(() => reject(new Error(`${record.name}: no ${pattern} within ${timeoutMs} ms:\n${buffer}${record.tail()}`)), timeoutMs);
    const onData = (chunk) => {
      buffer += chunk.toString();
      const match = pattern.exec(buffer);
      if (match) {
        clearTimeout(timer);
        record.child.stdout.off('data', onData);
        record.child.stdout.resume();
        resolve(match);
      }
    };
    record.child.stdout.on('data', onData);
    record.exitPromise.then(() => {
      clearTimeout(timer);
      reject(new Error(`${record.name} exited:\n${buffer}${record.tail()}`));
    });
  });
}

/** A fresh database on the local server; registered for removal with the run. */
async function createDatabase(run, dialect, prefix = 'conveyor_bench') {
  const name = uniqueName(prefix);
  const adminUrl = new URL(dialect === 'postgres' ? POSTGRES_ADMIN_URL : MYSQL_ADMIN_URL);
  const url = new URL(adminUrl);
  url.pathname = `/${name}`;
  const admin = (sql) => adminQuery(dialect, adminUrl.toString(), sql);
  await admin(dialect === 'postgres' ? `CREATE DATABASE "${name}"` : `CREATE DATABASE \`${name}\` CHARACTER SET utf8mb4`);
  run.defer(`drop database ${name}`, () =>
    admin(dialect === 'postgres' ? `DROP DATABASE IF EXISTS "${name}" WITH (FORCE)` : `DROP DATABASE IF EXISTS \`${name}\``),
  );
  return { name, dialect, url: url.toString(), query: (sql, params) => adminQuery(dialect, url.toString(), sql, params) };
}

async function adminQuery(dialect, url, sql, params = []) {
  if (dialect === 'postgres') {
    const { Client } = require('pg');
    const client = new Client({ connectionString: url });
    await client.connect();
    try {
      return (await client.query(sql, params)).rows;
    } finally {
      await client.end();
    }
  }
  const mysql = require('mysql2/promise');
  const connection = await mysql.createConnection({ uri: url });
  try {
    const [rows] = await connection.query(sql, params);
    return rows;
  } finally {
    await connection.end();
  }
}

function redisOptions() {
  const url = new URL(REDIS_URL);
  return { host: url.hostname, port: Number(url.port || 6379), db: Number(url.pathname.slice(1) || 0) };
}

/** Deletes every key under `prefix:` (SCAN + DEL; never FLUSHDB on the shared Redis). */
async function deleteRedisPrefix(prefix) {
  const { Redis } = require('ioredis');
  const redis = new Redis({ ...redisOptions(), lazyConnect: true, maxRetriesPerRequest: 2 });
  await redis.connect();
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', `${prefix}:*`, 'COUNT', 2000);
      cursor = next;
      if (keys.length > 0) await redis.unlink(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

function registerPrefix(run, prefix) {
  run.defer(`delete redis keys ${prefix}:*`, () => deleteRedisPrefix(prefix));
  return prefix;
}

module.exports = {
  ROOT,
  HOST,
  REDIS_URL,
  APP_ENTRY,
  useDist,
  snapshotDist,
  CAN_PIN,
  Run,
  sleep,
  cpuMs,
  rssMb,
  peakRssMb,
  statusMb,
  uniqueName,
  freePort,
  waitReady,
  waitForLine,
  createDatabase,
  adminQuery,
  redisOptions,
  deleteRedisPrefix,
  registerPrefix,
  POSTGRES_ADMIN_URL,
  MYSQL_ADMIN_URL,
};
