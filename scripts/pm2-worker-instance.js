'use strict';
/**
 * Preloaded by ecosystem.config.js into each pm2 worker instance (`node --require`), before the
 * worker reads its configuration. pm2 numbers instances 0, 1, … in NODE_APP_INSTANCE (kept
 * across restarts and reloads); from it each instance gets
 *   - its own WORKER_ID, "<WORKER_ID or hostname>-<n>": the ledger's workerId and BullMQ's worker
 *     list tell instances apart, and an id survives restarts;
 *   - its own health port, WORKER_HEALTH_PORT + n, so instances on one host do not collide.
 *     (pm2's `increment_var` is not used: a reload hands the restarted instance the base port
 *     again.)
 * Outside pm2 (no NODE_APP_INSTANCE) it does nothing.
 */
const { hostname } = require('node:os');

const raw = process.env.NODE_APP_INSTANCE;
const instance = raw === undefined || raw === '' ? NaN : Number(raw);
if (Number.isInteger(instance) && instance >= 0) {
  const base = process.env.WORKER_ID || hostname().replace(/[^A-Za-z0-9_.:-]/g, '-');
  process.env.WORKER_ID = `${base.slice(0, 120)}-${instance}`;
  const port = Number(process.env.WORKER_HEALTH_PORT || 3001);
  if (Number.isInteger(port)) process.env.WORKER_HEALTH_PORT = String(port + instance);
}
