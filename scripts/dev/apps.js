'use strict';
/**
 * Step 6: migrations, then the API and the worker, with the development keys they need.
 */
const fs = require('node:fs');
const path = require('node:path');
const { intSetting, LauncherError, httpStatus, say, useColor, warn } = require('./common');
const { ENTRY } = require('./build');
const { describeExit, isSuccess, runTask, startChild, waitUntil } = require('./supervisor');

/** Step 6a: migrations, before either app starts. */
async function runMigrations(env) {
  say('applying database migrations');
  const exit = await runTask('migrate', process.execPath, [ENTRY.migrate], { env });
  if (!isSuccess(exit)) throw new LauncherError(`migrations failed (${describeExit(exit)}); see the [migrate] lines above`);
}

/** Step 6b: both apps, then wait until both report ready. */
async function startApps(env, ports) {
  // Loaded here, not at the top: the launcher runs without node_modules until step 4.
  const { lineFormatter, wantsPretty } = require('../lib/dev-log-format');
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

module.exports = { runMigrations, startApps, devAdminKey, devWebhookSecretKey };
