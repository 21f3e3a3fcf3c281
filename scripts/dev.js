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
 * process groups). The parts live in scripts/dev/: build (steps 1–2), embedded-database (4),
 * services (5: Redis), apps (6), supervisor (children, shutdown, launcher state), banner.
 */
const fs = require('node:fs');
const path = require('node:path');
const { ROOT } = require('./lib/project-node');
const { CANCELLED, LauncherError, intSetting, probeTcp, say, warn } = require('./dev/common');
const { REEXEC_MARKER, REQUIRED_NODE_MAJOR, buildIfStale, ensureDependencies, reexecOnLocalNode } = require('./dev/build');
const { devAdminKey, devWebhookSecretKey, runMigrations, startApps } = require('./dev/apps');
const { printBanner } = require('./dev/banner');
const { setUpDatabase } = require('./dev/embedded-database');
const { setUpRedis } = require('./dev/services');
const { claimState, installSignalHandlers, isStopping, requestShutdown } = require('./dev/supervisor');

const USAGE = `Usage: npm run dev [-- --no-build] [-- --check]

  --no-build   use dist/ as it is, even when sources are newer
  --check      start everything, print the banner, then stop cleanly (exit 0 on success)
`;

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

async function main() {
  const options = parseArgs(process.argv.slice(2));
  installSignalHandlers();

  await ensureDependencies();
  if (Number(process.versions.node.split('.')[0]) !== REQUIRED_NODE_MAJOR) {
    // Hand over to Node 24; this process only forwards signals and the exit code from here on.
    for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.removeAllListeners(signal);
    reexecOnLocalNode(__filename);
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
  if (err === CANCELLED || isStopping()) return; // a shutdown is already under way
  warn(err instanceof LauncherError ? err.message : `internal error: ${err.stack || err}`);
  requestShutdown('start-up failed', 1);
});
