// @ts-check
'use strict';
/**
 * pm2 process file for the built apps (`npm run build` first):
 *
 *   pm2 start ecosystem.config.js                         # API (2 instances) + worker
 *   pm2 start ecosystem.config.js --only conveyor-worker
 *   pm2 start ecosystem.config.js --env production
 *   pm2 reload ecosystem.config.js                        # rolling: API without downtime, workers one by one
 *   pm2 delete ecosystem.config.js
 *
 * Any pm2 works, on whatever Node runs it (pm2 itself needs Node 18+): a global one, `npx pm2`,
 * or the `pm2:*` npm scripts. The apps always run on Node 24 — the project's own
 * (node_modules/node, from `npm ci`), else pm2's Node when that is 24 or newer — through pm2's
 * `interpreter`. That is why the API runs as fork instances that share PORT (SO_REUSEPORT,
 * HTTP_REUSE_PORT) rather than in pm2's cluster mode, whose workers are forked from the pm2
 * daemon on the daemon's own Node. A reload restarts one API instance at a time and moves on
 * once the new one answers (`wait_ready`: the API signals "ready" when it listens), so the
 * others keep serving. The apps read their configuration from the environment pm2 is started
 * in, then `.env` (see .env.example). Settings of this file:
 *
 *   API_INSTANCES       API processes, sharing PORT (default 2; "max" = one per CPU)
 *   WORKER_INSTANCES    worker processes in fork mode (default 1). Instance n gets WORKER_ID
 *                       "<WORKER_ID or hostname>-n" and health port WORKER_HEALTH_PORT + n.
 *   API_MAX_MEMORY      restart an API process above this RSS (default 768M)
 *   WORKER_MAX_MEMORY   restart a worker above this RSS (default 1536M); the restart is graceful
 *   LOG_DIR             log files (default <project>/logs; rotate with scripts/logrotate.conf)
 *   SHUTDOWN_GRACE_MS   as for the worker; pm2 waits this long plus a margin before SIGKILL
 *
 * Recycling (WORKER_MAX_TASKS, WORKER_MAX_RSS, read by the worker): a worker drains and exits 75;
 * `autorestart` starts a fresh one (pm2 restarts on any exit code), `exp_backoff_restart_delay`
 * spaces out quick ones. A worker that lived less than `min_uptime` counts towards `max_restarts`,
 * so set WORKER_MAX_TASKS for minutes of work.
 */
const fs = require('node:fs');
const path = require('node:path');
const { parseEnv } = require('node:util');

const ROOT = __dirname;
const PROJECT_NODE = path.join(ROOT, 'node_modules', 'node', 'bin', 'node');

/** The Node 24 the apps run on, whatever Node runs pm2. */
function appNode() {
  if (fs.existsSync(PROJECT_NODE)) return PROJECT_NODE;
  if (Number(process.versions.node.split('.')[0]) >= 24) return process.execPath;
  throw new Error(
    `pm2 runs on Node ${process.versions.node} and the project's Node 24 is not installed: run \`npm ci\` ` +
      '(it puts Node 24 in node_modules/node), or run pm2 on Node 24.',
  );
}
// The apps read `.env` themselves; this file reads it too (without exporting it) so that the few
// settings it derives values from (grace, health port) agree with what the apps will see.
const envFile = path.resolve(ROOT, process.env.ENV_FILE || '.env');
const fileEnv = fs.existsSync(envFile) ? parseEnv(fs.readFileSync(envFile, 'utf8')) : {};
const setting = (/** @type {string} */ name) => process.env[name] ?? fileEnv[name];

const LOG_DIR = path.resolve(ROOT, setting('LOG_DIR') || 'logs');
const SHUTDOWN_GRACE_MS = positiveInt('SHUTDOWN_GRACE_MS', 30_000);
// pm2 sends SIGINT, then SIGKILL after kill_timeout: leave the worker its grace period plus time
// to hand interrupted tasks back and flush the ledger.
const WORKER_KILL_TIMEOUT_MS = SHUTDOWN_GRACE_MS + 15_000;
// The API drains in-flight requests; open SSE streams are what it may wait for.
const API_KILL_TIMEOUT_MS = 15_000;

function positiveInt(name, fallback) {
  const raw = setting(name);
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0) throw new Error(`${name} must be a whole number, got "${raw}"`);
  return value;
}

/** "max" / -1 are pm2's "one per CPU"; anything else must be a count. */
function instances(name, fallback) {
  const raw = setting(name);
  if (raw === undefined || raw === '') return fallback;
  if (raw === 'max') return 'max';
  const value = Number(raw);
  if (!Number.isInteger(value) || (value < 1 && value !== -1)) throw new Error(`${name} must be a count or "max", got "${raw}"`);
  return value;
}

const common = {
  cwd: ROOT,
  interpreter: appNode(),
  autorestart: true,
  // A crash loop (e.g. the database is down) backs off instead of spinning.
  exp_backoff_restart_delay: 200,
  min_uptime: 5_000,
  max_restarts: 50,
  merge_logs: true, // one file per app, not per instance
  time: false, // the apps log JSON lines with their own timestamps
  pmx: false,
  automation: false,
  // `--env production` merges this over `env`.
  env_production: { NODE_ENV: 'production' },
};

module.exports = {
  apps: [
    {
      ...common,
      name: 'conveyor-api',
      script: 'dist/apps/api/apps/api/src/main.js',
      exec_mode: 'fork',
      instances: instances('API_INSTANCES', 2),
      kill_timeout: API_KILL_TIMEOUT_MS,
      // A reload restarts instance after instance, each once the one before says "ready".
      wait_ready: true,
      listen_timeout: 30_000,
      max_memory_restart: setting('API_MAX_MEMORY') || '768M',
      out_file: path.join(LOG_DIR, 'conveyor-api.out.log'),
      error_file: path.join(LOG_DIR, 'conveyor-api.error.log'),
      env: { CONVEYOR_SERVICE: 'conveyor-api', HTTP_REUSE_PORT: 'true' },
    },
    {
      ...common,
      name: 'conveyor-worker',
      script: 'dist/apps/worker/apps/worker/src/main.js',
      exec_mode: 'fork',
      instances: instances('WORKER_INSTANCES', 1),
      // Gives instance n its own WORKER_ID and health port (base + n) before the worker loads.
      node_args: ['--require', path.join(ROOT, 'scripts', 'pm2-worker-instance.js')],
      kill_timeout: WORKER_KILL_TIMEOUT_MS,
      max_memory_restart: setting('WORKER_MAX_MEMORY') || '1536M',
      out_file: path.join(LOG_DIR, 'conveyor-worker.out.log'),
      error_file: path.join(LOG_DIR, 'conveyor-worker.error.log'),
      env: {
        CONVEYOR_SERVICE: 'conveyor-worker',
        // The preload runs before the app reads .env, so the two values it derives from are
        // passed on from here (environment first, then .env).
        WORKER_HEALTH_PORT: positiveInt('WORKER_HEALTH_PORT', 3001),
        ...(setting('WORKER_ID') ? { WORKER_ID: setting('WORKER_ID') } : {}),
      },
    },
  ],
};
