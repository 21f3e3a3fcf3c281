'use strict';
/**
 * The two systems under test, side by side on the same Redis:
 *   conveyor: the built API (and, per phase, built workers) over its own database and prefix;
 *   baseline: bare Fastify + BullMQ Queue (enqueue) and raw BullMQ Workers (processing) on
 *             another prefix.
 * Every process is registered with the run, so it is stopped on any exit.
 */
const path = require('node:path');
const { randomBytes } = require('node:crypto');
const { APP_ENTRY, CAN_PIN, HOST, REDIS_URL, freePort, redisOptions, registerPrefix, createDatabase, uniqueName, waitReady, waitForLine } = require('./infra');
const { QUEUE } = require('./baseline-job');

const PROFILE_HOOK = path.join(__dirname, 'cpu-profile-hook.js');

async function startStack(run, options) {
  const { dialect, logLevel, log } = options;
  const db = await createDatabase(run, dialect);
  const id = randomBytes(3).toString('hex');
  const conveyorPrefix = registerPrefix(run, uniqueName(`bench_cv_${id}`));
  const baselinePrefix = registerPrefix(run, uniqueName(`bench_bl_${id}`));
  const adminKey = `bench-${randomBytes(24).toString('base64url')}`;
  const env = {
    NODE_ENV: 'production',
    LOG_LEVEL: logLevel,
    DATABASE_URL: db.url,
    REDIS_URL,
    QUEUE_PREFIX: conveyorPrefix,
    CONVEYOR_ADMIN_KEY: adminKey,
    // Production refuses to store webhook secrets without it (they are sealed at rest).
    WEBHOOK_SECRET_KEY: randomBytes(32).toString('base64'),
    RATE_LIMIT_PER_MINUTE: '0',
    // The bench queues far more than a tenant may keep waiting by default; a cap this high keeps
    // the backlog count in the path without refusing.
    MAX_UNFINISHED_TASKS_PER_TENANT: '100000000',
    WORKER_QUEUES: QUEUE,
    SHUTDOWN_GRACE_MS: '5000',
    // The SSE phase opens all its streams (1,000 in quick and full mode) with one key from one
    // address: the per-key and per-process caps sit above that, the per-address cap is off.
    SSE_MAX_STREAMS_PER_KEY: '5000',
    SSE_MAX_STREAMS: '5000',
    HTTP_MAX_CONNECTIONS_PER_ADDRESS: '0',
    STORAGE_DIR: path.join(run.dir, 'storage'),
  };

  log(`database ${db.name} (${dialect}), prefixes ${conveyorPrefix} / ${baselinePrefix}`);
  const migrate = run.spawnNode('migrate', APP_ENTRY.migrate, { env });
  const { code } = await migrate.exitPromise;
  if (code !== 0) throw new Error(`migrations failed (exit ${code}):\n${migrate.tail()}`);

  const { Queue } = require('bullmq');
  const { Redis } = require('ioredis');
  const connection = { ...redisOptions(), maxRetriesPerRequest: null };
  const queues = {
    conveyor: new Queue(QUEUE, { connection, prefix: conveyorPrefix }),
    baseline: new Queue(QUEUE, { connection, prefix: baselinePrefix }),
  };
  const redis = new Redis(connection);
  run.defer('close queue clients', async () => {
    await Promise.all(Object.values(queues).map((q) => q.close().catch(() => undefined)));
    redis.disconnect();
  });

  const stack = {
    db,
    env,
    adminKey,
    prefixes: { conveyor: conveyorPrefix, baseline: baselinePrefix },
    queues,
    redis,
    api: null,
    apiUrl: null,
    baselineApi: null,
    baselineUrl: null,
    authHeaders: { authorization: `Bearer ${adminKey}`, 'content-type': 'application/json' },
    headersFor(system) {
      return system === 'conveyor' ? this.authHeaders : { 'content-type': 'application/json' };
    },
    urlFor(system) {
      return system === 'conveyor' ? this.apiUrl : this.baselineUrl;
    },

    /** The built API; `profile` preloads the CPU-profile hook; `extraEnv` adds settings (e.g. tracing). */
    async startApi({ cpus, profile, name, extraEnv = {} } = {}) {
      const port = await freePort();
      const record = run.spawnNode(name ?? (profile ? 'api-profiled' : 'api'), APP_ENTRY.api, {
        env: { ...env, ...extraEnv, PORT: String(port), ...(profile ? { CPU_PROFILE_PORT: String(profile.port), CPU_PROFILE_FILE: profile.file } : {}) },
        nodeArgs: profile ? ['-r', PROFILE_HOOK] : [],
        cpus,
      });
      await waitReady(record, `http://${HOST}:${port}/health/ready`);
      return { record, url: `http://${HOST}:${port}` };
    },

    async startBaselineApi({ cpus } = {}) {
      const port = await freePort();
      const { host, port: redisPort } = redisOptions();
      const record = run.spawnNode('baseline-api', path.join(__dirname, 'baseline-api.js'), {
        env: { PORT: String(port), REDIS_HOST: host, REDIS_PORT: String(redisPort), QUEUE_PREFIX: baselinePrefix, NODE_ENV: 'production' },
        cpus,
        pipeStdout: true,
      });
      await waitForLine(record, /listening/);
      return { record, url: `http://${HOST}:${port}` };
    },

    /**
     * One Conveyor worker process (ledger on) consuming the `system` queue; `appDefaults` leaves
     * its queues and concurrency to the app's defaults (every queue), as a deployment would.
     */
    async startWorker({ concurrency, cpus, name = 'worker', profile, appDefaults = false, extraEnv = {} } = {}) {
      const port = await freePort();
      const { WORKER_QUEUES, ...common } = env;
      const record = run.spawnNode(name, APP_ENTRY.worker, {
        env: {
          ...common,
          ...(appDefaults ? {} : { WORKER_QUEUES, WORKER_CONCURRENCY: String(concurrency) }),
          ...extraEnv,
          WORKER_HEALTH_PORT: String(port),
          WORKER_ID: uniqueName(name),
          ...(profile ? { CPU_PROFILE_PORT: String(profile.port), CPU_PROFILE_FILE: profile.file } : {}),
        },
        nodeArgs: profile ? ['-r', PROFILE_HOOK] : [],
        cpus,
      });
      await waitReady(record, `http://${HOST}:${port}/health/ready`);
      return { record, url: `http://${HOST}:${port}` };
    },

    /** One raw BullMQ Worker process with the same concurrency. */
    async startRawWorker({ concurrency, cpus, name = 'raw-worker' } = {}) {
      const { host, port } = redisOptions();
      const record = run.spawnNode(name, path.join(__dirname, 'raw-worker.js'), {
        env: { REDIS_HOST: host, REDIS_PORT: String(port), QUEUE_PREFIX: baselinePrefix, CONCURRENCY: String(concurrency), NODE_ENV: 'production' },
        cpus,
        pipeStdout: true,
      });
      await waitForLine(record, /ready/);
      return { record };
    },

    /** OS pids of the database server processes doing this run's ledger work. */
    async databaseServerPids() {
      if (dialect === 'postgres') {
        const rows = await db.query('SELECT pid FROM pg_stat_activity WHERE datname = current_database() AND pid <> pg_backend_pid()');
        return rows.map((r) => Number(r.pid));
      }
      return serverPid('mysqld') ?? serverPid('mariadbd') ?? [];
    },

    /** Removes every job of both queues and every ledger row (between phases). */
    async reset() {
      await Promise.all(Object.values(queues).map((q) => q.obliterate({ force: true })));
      await db.query(dialect === 'postgres' ? 'TRUNCATE tasks' : 'DELETE FROM tasks');
    },
  };
  return stack;
}

function serverPid(name) {
  try {
    return require('node:child_process').execFileSync('pidof', [name], { encoding: 'utf8' }).trim().split(/\s+/).map(Number);
  } catch {
    return null;
  }
}

/** CPU sets: the system under test on CPU 0, load generators on CPU 1 (when taskset works). */
const CPU = { server: CAN_PIN ? '0' : undefined, load: CAN_PIN ? '1' : undefined };

module.exports = { startStack, CPU, serverPid };
