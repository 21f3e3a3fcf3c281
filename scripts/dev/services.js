'use strict';
/**
 * Step 5: Redis. A configured one (REDIS_URL / REDIS_HOST) must answer; otherwise one on
 * 127.0.0.1:6379, otherwise a redis-server of the launcher's own.
 */
const fs = require('node:fs');
const path = require('node:path');
const { ROOT } = require('../lib/project-node');
const { LauncherError, findOnPath, intSetting, probeTcp, redactUrl, relativeToRoot, say } = require('./common');
const { startChild, waitUntil } = require('./supervisor');

/**
 * PINGs a Redis server (a URL, or ioredis options) with ioredis: null when it answers PONG,
 * otherwise a short reason. TLS certificates are not verified: this only asks whether the
 * server is there; the apps connect with their own settings.
 */
async function redisProblem(target, timeoutMs = 2000) {
  // Loaded here: node_modules exists by now (step 1), but not when the launcher starts.
  const { Redis } = require(require.resolve('ioredis', { paths: [ROOT] }));
  const options = {
    lazyConnect: true,
    connectTimeout: timeoutMs,
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    retryStrategy: () => null, // one attempt: this is a probe
  };
  const secure = typeof target === 'string' ? target.startsWith('rediss:') : target.tls;
  const settings = { ...options, ...(secure ? { tls: { rejectUnauthorized: false } } : {}) };
  const client = typeof target === 'string' ? new Redis(target, settings) : new Redis({ ...target, ...settings });
  let failure = null;
  client.on('error', (err) => {
    failure ??= err; // the first one says why (refused, timeout, bad password)
  });
  try {
    await client.connect();
    const reply = await client.ping();
    return reply === 'PONG' ? null : `unexpected reply ${reply}`;
  } catch (err) {
    const cause = failure || err;
    return cause.code || cause.message;
  } finally {
    client.disconnect();
  }
}

/** Returns { env, description } for the apps. */
async function setUpRedis(dataDir) {
  if (process.env.REDIS_URL) {
    const description = redactUrl(process.env.REDIS_URL);
    try {
      new URL(process.env.REDIS_URL);
    } catch {
      throw new LauncherError('REDIS_URL is not a valid URL');
    }
    const problem = await redisProblem(process.env.REDIS_URL);
    // Configured explicitly: falling back to another Redis would hide the mistake.
    if (problem) throw new LauncherError(`REDIS_URL ${description} does not answer PING: ${problem}`);
    return { env: {}, description };
  }
  if (process.env.REDIS_HOST) {
    const target = {
      host: process.env.REDIS_HOST,
      port: Number(process.env.REDIS_PORT || 6379),
      password: process.env.REDIS_PASSWORD || undefined,
      tls: /^(1|true|yes|on)$/i.test(process.env.REDIS_TLS || ''),
    };
    const description = `${target.host}:${target.port} (REDIS_HOST)`;
    const problem = await redisProblem(target);
    if (problem) throw new LauncherError(`Redis at ${description} does not answer PING: ${problem}`);
    return { env: {}, description };
  }

  const local = 'redis://127.0.0.1:6379';
  if (!(await redisProblem(local))) {
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
  await waitUntil('redis-server', child, 20_000, async () => !(await redisProblem(url)));
  return { env: { REDIS_URL: url }, description: `redis-server started on ${url}, data in ${relativeToRoot(redisDir)}` };
}

module.exports = { setUpRedis };
