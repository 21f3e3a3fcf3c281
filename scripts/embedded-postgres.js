#!/usr/bin/env node
'use strict';
/**
 * Embedded PostgreSQL for local development: PGlite (Postgres compiled to WASM) served over the
 * Postgres wire protocol by @electric-sql/pglite-socket, so the API, the worker and the migration
 * script connect with their ordinary `pg` driver and a plain DATABASE_URL.
 *
 * The dev launcher (`scripts/dev/embedded-database.js`) starts this in its own child process
 * (PGlite is single-threaded; keeping it out of the launcher keeps the launcher responsive).
 * It can also be run by hand:
 *
 *   node scripts/embedded-postgres.js
 *   DATABASE_URL=postgres://postgres:postgres@127.0.0.1:54329/postgres
 *
 * Environment:
 *   EMBEDDED_PG_DATA_DIR         data directory (default: $DEV_DATA_DIR/pglite, DEV_DATA_DIR
 *                                defaulting to <project>/data); kept between runs
 *   EMBEDDED_PG_HOST             bind address (default 127.0.0.1)
 *   EMBEDDED_PG_PORT             port (default 54329)
 *   EMBEDDED_PG_MAX_CONNECTIONS  concurrent client connections (default 20)
 * Flags:
 *   --exit-with-parent           shut down when stdin closes (the launcher holds the other end,
 *                                so a launcher killed with SIGKILL does not leave us behind)
 *
 * PGlite executes one query at a time and one transaction at a time: a statement from another
 * connection waits until an open transaction commits. Fine for development, not for production.
 */
const fs = require('node:fs');
const path = require('node:path');

const PROJECT_ROOT = path.resolve(__dirname, '..');
const READY_PREFIX = 'embedded-postgres: ready';

// Our output goes to the launcher through a pipe. If the launcher dies, writes fail with EPIPE;
// that must not crash us before db.close() has flushed the data directory.
for (const stream of [process.stdout, process.stderr]) stream.on('error', () => {});

const config = {
  dataDir: path.resolve(
    process.env.EMBEDDED_PG_DATA_DIR ||
      path.join(process.env.DEV_DATA_DIR ? path.resolve(process.env.DEV_DATA_DIR) : path.join(PROJECT_ROOT, 'data'), 'pglite'),
  ),
  host: process.env.EMBEDDED_PG_HOST || '127.0.0.1',
  port: intFromEnv('EMBEDDED_PG_PORT', 54329),
  maxConnections: intFromEnv('EMBEDDED_PG_MAX_CONNECTIONS', 20),
  exitWithParent: process.argv.includes('--exit-with-parent'),
};
// A sibling file, not one inside the data dir: PGlite owns that directory's layout.
const lockFile = `${config.dataDir}.lock`;

function intFromEnv(name, fallback) {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > 65535) {
    fail(`${name} must be an integer between 0 and 65535, got "${raw}"`);
  }
  return value;
}

function log(message) {
  process.stdout.write(`embedded-postgres: ${message}\n`);
}

function fail(message) {
  process.stderr.write(`embedded-postgres: ${message}\n`);
  process.exit(1);
}

function isAlive(pid) {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM means the process exists but belongs to someone else: still alive.
    return err.code === 'EPERM';
  }
}

/**
 * Two PGlite instances writing one data directory would corrupt it (there is no postmaster to
 * arbitrate), so hold an exclusive lock file with our pid. A lock left by a dead process is taken
 * over.
 */
function acquireLock() {
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      fs.writeFileSync(lockFile, `${process.pid}\n`, { flag: 'wx' });
      return;
    } catch (err) {
      if (err.code !== 'EEXIST') throw err;
      const holder = Number.parseInt(fs.readFileSync(lockFile, 'utf8'), 10);
      if (Number.isInteger(holder) && holder !== process.pid && isAlive(holder)) {
        fail(`data directory ${config.dataDir} is in use by process ${holder} (lock: ${lockFile})`);
      }
      fs.rmSync(lockFile, { force: true });
    }
  }
  fail(`could not take the lock ${lockFile}`);
}

function releaseLock() {
  try {
    if (Number.parseInt(fs.readFileSync(lockFile, 'utf8'), 10) === process.pid) fs.rmSync(lockFile);
  } catch {
    // Already gone: nothing to release.
  }
}

async function main() {
  // Loaded here rather than at the top so that a missing install gives a clear message.
  let PGlite;
  let PGLiteSocketServer;
  try {
    ({ PGlite } = require('@electric-sql/pglite'));
    ({ PGLiteSocketServer } = require('@electric-sql/pglite-socket'));
  } catch (err) {
    fail(`cannot load PGlite (${err.message}); run npm ci first`);
  }

  fs.mkdirSync(path.dirname(config.dataDir), { recursive: true });
  acquireLock();
  // Release on any exit, including process.exit() from fail().
  process.on('exit', releaseLock);

  const firstRun = !fs.existsSync(path.join(config.dataDir, 'PG_VERSION'));
  log(`${firstRun ? 'initialising a new' : 'opening'} database in ${config.dataDir}`);
  const db = await PGlite.create(config.dataDir);

  const server = new PGLiteSocketServer({
    db,
    host: config.host,
    port: config.port,
    maxConnections: config.maxConnections,
  });
  let listening = false;
  server.addEventListener('error', (event) => {
    // Errors before listening (EADDRINUSE, …) reject start() and are reported there.
    if (listening) {
      process.stderr.write(`embedded-postgres: socket server error: ${event.detail?.message ?? event.detail}\n`);
    }
  });

  let stopping = null;
  const shutdown = (reason, exitCode = 0) => {
    // Later signals must not interrupt db.close(): an unclean close can lose recent writes.
    if (stopping) return stopping;
    log(`stopping (${reason})`);
    // A hung close must not leave the launcher waiting for ever.
    setTimeout(() => fail('shutdown took longer than 15 s; exiting anyway'), 15_000).unref();
    stopping = (async () => {
      try {
        await server.stop();
      } catch (err) {
        process.stderr.write(`embedded-postgres: error stopping the socket server: ${err.message}\n`);
        exitCode = 1;
      }
      try {
        await db.close();
      } catch (err) {
        process.stderr.write(`embedded-postgres: error closing the database: ${err.message}\n`);
        exitCode = 1;
      }
      log('stopped');
      process.exit(exitCode);
    })();
    return stopping;
  };
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => shutdown(signal));
  if (config.exitWithParent && !process.stdin.isTTY) {
    process.stdin.on('end', () => shutdown('parent went away'));
    process.stdin.on('error', () => shutdown('parent went away'));
    process.stdin.resume();
  }

  try {
    await server.start();
  } catch (err) {
    const hint = err.code === 'EADDRINUSE' ? ' (port in use: set EMBEDDED_PG_PORT to another port)' : '';
    await db.close().catch(() => {});
    fail(`cannot listen on ${config.host}:${config.port}: ${err.message}${hint}`);
  }
  listening = true;
  // One line the launcher (and a person) can wait for.
  process.stdout.write(
    `${READY_PREFIX} on ${config.host}:${config.port} ` +
      `(postgres://postgres:postgres@${config.host}:${config.port}/postgres, max ${config.maxConnections} connections)\n`,
  );
}

main().catch((err) => {
  process.stderr.write(`embedded-postgres: ${err.stack || err}\n`);
  process.exit(1);
});
