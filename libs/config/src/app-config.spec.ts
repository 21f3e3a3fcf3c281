import { concurrencyRangeOf, ConfigValidationError, loadAppConfig, type ConfigProblem } from './app-config';

const PG_URL = 'postgres://conveyor:secret@db.internal:6543/ledger';

/** Runs loadAppConfig and returns the ConfigValidationError it must throw. */
function configError(env: NodeJS.ProcessEnv): ConfigValidationError {
  try {
    loadAppConfig(env);
  } catch (error) {
    if (error instanceof ConfigValidationError) return error;
    throw new Error(`expected ConfigValidationError, got ${String(error)}`, { cause: error });
  }
  throw new Error('expected loadAppConfig to throw');
}

function problemKeys(problems: ConfigProblem[]): string[] {
  return [...new Set(problems.map((p) => p.key))].sort();
}

describe('loadAppConfig', () => {
  describe('DATABASE_URL', () => {
    it('parses a postgres URL into type, host, port, database and decoded credentials', () => {
      const config = loadAppConfig({ DATABASE_URL: 'postgres://app%20user:p%40ss%3Aw0rd@db.internal:6543/ledger%2Dmain' });
      expect(config.database).toMatchObject({
        type: 'postgres',
        url: 'postgres://app%20user:p%40ss%3Aw0rd@db.internal:6543/ledger%2Dmain',
        host: 'db.internal',
        port: 6543,
        username: 'app user',
        password: 'p@ss:w0rd',
        database: 'ledger-main',
        ssl: false,
      });
    });

    it('accepts postgresql:// and defaults the port to 5432', () => {
      const { database } = loadAppConfig({ DATABASE_URL: 'postgresql://pg.local/tasks' });
      expect(database).toMatchObject({ type: 'postgres', host: 'pg.local', port: 5432, database: 'tasks' });
      expect(database.username).toBeUndefined();
      expect(database.password).toBeUndefined();
    });

    it.each([
      ['mysql://root:pw@mysql.local:3307/conv', 3307],
      ['mariadb://root:pw@mysql.local/conv', 3306],
    ])('maps %s to the mysql type', (url, port) => {
      const { database } = loadAppConfig({ DATABASE_URL: url });
      expect(database).toMatchObject({ type: 'mysql', host: 'mysql.local', port, username: 'root', password: 'pw', database: 'conv' });
    });

    it('defaults the database name to "conveyor" when the URL has no path', () => {
      expect(loadAppConfig({ DATABASE_URL: 'postgres://db.internal' }).database.database).toBe('conveyor');
    });

    it('turns on ssl for sslmode=require', () => {
      expect(loadAppConfig({ DATABASE_URL: `${PG_URL}?sslmode=require` }).database.ssl).toBe(true);
    });

    it('rejects a URL of another scheme', () => {
      const error = configError({ DATABASE_URL: 'sqlite://file.db' });
      expect(problemKeys(error.problems)).toEqual(['DATABASE_URL']);
      expect(error.problems[0].problems.join(' ')).toMatch(/postgres:\/\/, mysql:\/\/ or mariadb:\/\//);
    });

    // BUG (reported): the scheme regex lets an unparsable URL through, and `new URL()` then throws
    // a bare TypeError, so the boot message lists neither this key nor the other bad keys.
    it('reports an unparsable DATABASE_URL as a config problem, not a TypeError', () => {
      const error = configError({ DATABASE_URL: 'postgres://db.internal:port/ledger', PORT: 'abc' });
      expect(problemKeys(error.problems)).toEqual(['DATABASE_URL', 'PORT']);
    });
  });

  describe('defaults', () => {
    it('fills every optional setting', () => {
      const config = loadAppConfig({ DATABASE_URL: PG_URL });
      expect(config).toMatchObject({
        env: 'development',
        port: 3000,
        logLevel: 'info',
        queuePrefix: 'conveyor',
        queueNames: {},
        storageDir: './data/storage',
        maxUploadBytes: 1024 * 1024 * 1024,
        redis: { host: '127.0.0.1', port: 6379, db: 0, tls: false },
        worker: { queues: null, defaultConcurrency: 10, concurrency: {}, healthPort: 3001, shutdownGraceMs: 30_000 },
        tasks: { maxAttempts: 3, timeoutMs: 300_000, ttlSeconds: 7 * 24 * 3600, progressIntervalMs: 500, maxResultBytes: 1048576 },
      });
      expect(config.database).toMatchObject({ poolSize: 10, migrationsRun: false, ssl: false });
      expect(config.redis.url).toBeUndefined();
      expect(config.redis.password).toBeUndefined();
      expect(config.worker.id).toMatch(new RegExp(`:${process.pid}$`));
    });

    it('keeps a renamed file queue under the name QUEUE_NAME gives', () => {
      expect(loadAppConfig({ DATABASE_URL: PG_URL, QUEUE_NAME: 'legacy-files' }).queueNames).toEqual({ 'file-processing': 'legacy-files' });
    });

    it('converts numeric and boolean strings', () => {
      const config = loadAppConfig({
        DATABASE_URL: PG_URL,
        NODE_ENV: 'production',
        PORT: '8080',
        DB_POOL_SIZE: '25',
        DB_SSL: 'yes',
        DB_MIGRATIONS_RUN: 'true',
        MAX_RETRY_ATTEMPTS: '7',
        PROGRESS_UPDATE_INTERVAL_MS: '250',
        WORKER_ID: 'worker-a',
      });
      expect(config).toMatchObject({ env: 'production', port: 8080, worker: { id: 'worker-a' } });
      expect(config.database).toMatchObject({ poolSize: 25, ssl: true, migrationsRun: true });
      expect(config.tasks).toMatchObject({ maxAttempts: 7, progressIntervalMs: 250 });
    });
  });

  describe('DB_HOST-style database config', () => {
    it('builds a postgres config from the separate keys', () => {
      const { database } = loadAppConfig({
        DB_HOST: 'pg.local',
        DB_PORT: '5433',
        DB_USERNAME: 'u',
        DB_PASSWORD: 'p',
        DB_DATABASE: 'd',
      });
      expect(database).toEqual({
        type: 'postgres',
        host: 'pg.local',
        port: 5433,
        username: 'u',
        password: 'p',
        database: 'd',
        ssl: false,
        poolSize: 10,
        connectTimeoutMs: 5000,
        statementTimeoutMs: 15_000,
        migrationsRun: false,
      });
    });

    it('maps DB_TYPE mariadb to mysql with the mysql default port', () => {
      const { database } = loadAppConfig({ DB_TYPE: 'mariadb', DB_HOST: 'maria.local' });
      expect(database).toMatchObject({ type: 'mysql', host: 'maria.local', port: 3306, database: 'conveyor' });
      expect(database.url).toBeUndefined();
    });

    it('prefers DATABASE_URL over DB_* keys', () => {
      const { database } = loadAppConfig({ DATABASE_URL: PG_URL, DB_HOST: 'ignored', DB_TYPE: 'mysql' });
      expect(database).toMatchObject({ type: 'postgres', host: 'db.internal', port: 6543 });
    });

    it('fails on a missing database config and points at `npm run dev`', () => {
      const error = configError({});
      expect(error.problems).toHaveLength(1);
      expect(error.problems[0].key).toBe('DATABASE_URL');
      expect(error.problems[0].problems.join(' ')).toContain('npm run dev');
      expect(error.message).toContain('DATABASE_URL');
    });
  });

  describe('REDIS_URL', () => {
    it('parses host, port, password and db number', () => {
      const { redis } = loadAppConfig({ DATABASE_URL: PG_URL, REDIS_URL: 'redis://:s%3Acret@cache.local:6380/4' });
      expect(redis).toEqual({
        url: 'redis://:s%3Acret@cache.local:6380/4',
        host: 'cache.local',
        port: 6380,
        password: 's:cret',
        db: 4,
        tls: false,
      });
    });

    it('turns on tls for rediss:// and falls back to REDIS_DB and REDIS_PASSWORD', () => {
      const { redis } = loadAppConfig({
        DATABASE_URL: PG_URL,
        REDIS_URL: 'rediss://cache.local',
        REDIS_DB: '2',
        REDIS_PASSWORD: 'from-env',
      });
      expect(redis).toMatchObject({ host: 'cache.local', port: 6379, db: 2, tls: true, password: 'from-env' });
    });

    it('uses the REDIS_* keys without a URL', () => {
      const { redis } = loadAppConfig({ DATABASE_URL: PG_URL, REDIS_HOST: 'r', REDIS_PORT: '7000', REDIS_DB: '3', REDIS_TLS: 'on' });
      expect(redis).toEqual({ host: 'r', port: 7000, db: 3, tls: true, password: undefined });
    });

    // BUG (reported): the db number in the URL path is not validated, so a typo yields NaN
    // (or 16+) where REDIS_DB would have been refused.
    it.each(['redis://cache.local/abc', 'redis://cache.local/16'])('refuses the bad db number in %s', (url) => {
      const error = configError({ DATABASE_URL: PG_URL, REDIS_URL: url });
      expect(problemKeys(error.problems)).toEqual(['REDIS_URL']);
    });
  });

  describe('Redis Sentinel and Cluster', () => {
    it('reads the sentinels, master name and passwords; the prefix stays as given', () => {
      const config = loadAppConfig({
        DATABASE_URL: PG_URL,
        REDIS_SENTINELS: 's1:26379, [::1]:26380',
        REDIS_SENTINEL_NAME: 'conveyor-master',
        REDIS_SENTINEL_PASSWORD: 'sentinel-pw',
        REDIS_PASSWORD: 'master-pw',
        REDIS_DB: '2',
      });
      expect(config.redis).toMatchObject({
        password: 'master-pw',
        db: 2,
        sentinel: {
          nodes: [
            { host: 's1', port: 26379 },
            { host: '::1', port: 26380 },
          ],
          name: 'conveyor-master',
          password: 'sentinel-pw',
        },
      });
      expect(config.redis.clusterNodes).toBeUndefined();
      expect(config.queuePrefix).toBe('conveyor');
    });

    it('reads the cluster nodes and makes the queue prefix a hash tag', () => {
      const config = loadAppConfig({ DATABASE_URL: PG_URL, REDIS_CLUSTER_NODES: 'n1:7000,n2:7001', QUEUE_PREFIX: 'acme' });
      expect(config.redis.clusterNodes).toEqual([
        { host: 'n1', port: 7000 },
        { host: 'n2', port: 7001 },
      ]);
      expect(config.queuePrefix).toBe('{acme}');
    });

    it.each([
      [{ REDIS_SENTINELS: 's1:26379' }, ['REDIS_SENTINEL_NAME']],
      [{ REDIS_SENTINEL_NAME: 'm' }, ['REDIS_SENTINELS']],
      [{ REDIS_SENTINELS: 's1', REDIS_SENTINEL_NAME: 'm' }, ['REDIS_SENTINELS']],
      [{ REDIS_CLUSTER_NODES: 'n1:70000' }, ['REDIS_CLUSTER_NODES']],
      [{ REDIS_CLUSTER_NODES: 'n1:7000', REDIS_DB: '1' }, ['REDIS_DB']],
      [{ REDIS_CLUSTER_NODES: 'n1:7000', REDIS_SENTINELS: 's1:26379', REDIS_SENTINEL_NAME: 'm' }, ['REDIS_CLUSTER_NODES']],
    ])('refuses %j', (env, keys) => {
      expect(problemKeys(configError({ DATABASE_URL: PG_URL, ...env }).problems)).toEqual(keys);
    });
  });

  describe('WORKER_QUEUES', () => {
    it.each([
      ['*', null],
      ['', null],
      ['  ', null],
      ['system', ['system']],
      ['a, b,a', ['a', 'b']],
    ])('parses %j', (raw, expected) => {
      expect(loadAppConfig({ DATABASE_URL: PG_URL, WORKER_QUEUES: raw }).worker.queues).toEqual(expected);
    });

    it('refuses names that are no queue names', () => {
      const error = configError({ DATABASE_URL: PG_URL, WORKER_QUEUES: 'Files;rm' });
      expect(problemKeys(error.problems)).toEqual(['WORKER_QUEUES']);
    });
  });

  describe('fairness', () => {
    it('is on with no cap and a 500 ms deferral by default, and takes FAIRNESS=off and a default cap', () => {
      expect(loadAppConfig({ DATABASE_URL: PG_URL }).fairness).toEqual({ enabled: true, tenantConcurrencyDefault: 0, borrow: true, deferMs: 500 });
      const config = loadAppConfig({
        DATABASE_URL: PG_URL,
        FAIRNESS: 'off',
        TENANT_CONCURRENCY_DEFAULT: '4',
        TENANT_CONCURRENCY_BORROW: 'off',
        FAIRNESS_DEFER_MS: '50',
      });
      expect(config.fairness).toEqual({ enabled: false, tenantConcurrencyDefault: 4, borrow: false, deferMs: 50 });
    });

    it.each([
      ['FAIRNESS', 'sometimes'],
      ['TENANT_CONCURRENCY_DEFAULT', '-1'],
      ['TENANT_CONCURRENCY_BORROW', 'maybe'],
      ['FAIRNESS_DEFER_MS', '5'],
    ])('refuses %s=%j', (key, value) => {
      expect(problemKeys(configError({ DATABASE_URL: PG_URL, [key]: value }).problems)).toEqual([key]);
    });
  });

  describe('WORKER_CONCURRENCY', () => {
    it('takes a bare number as the default', () => {
      const { worker } = loadAppConfig({ DATABASE_URL: PG_URL, WORKER_CONCURRENCY: '5' });
      expect(worker).toMatchObject({ defaultConcurrency: 5, concurrency: {} });
    });

    it('takes per-queue values and "*" as the default', () => {
      const { worker } = loadAppConfig({ DATABASE_URL: PG_URL, WORKER_CONCURRENCY: 'system=2, *=7' });
      expect(worker).toMatchObject({ defaultConcurrency: 7, concurrency: { system: 2 } });
    });

    it('keeps the default of 10 when only queues are named', () => {
      const { worker } = loadAppConfig({ DATABASE_URL: PG_URL, WORKER_CONCURRENCY: 'files=3' });
      expect(worker).toMatchObject({ defaultConcurrency: 10, concurrency: { files: 3 } });
    });

    it.each(['x=', 'abc', '1,2'])('refuses the malformed value %j', (raw) => {
      const error = configError({ DATABASE_URL: PG_URL, WORKER_CONCURRENCY: raw });
      expect(problemKeys(error.problems)).toEqual(['WORKER_CONCURRENCY']);
      expect(error.message).toContain('WORKER_CONCURRENCY');
    });

    it.each(['0', 'system=0', '*=0', '0..3', 'files=0..3'])('refuses a zero concurrency in %j', (raw) => {
      const error = configError({ DATABASE_URL: PG_URL, WORKER_CONCURRENCY: raw });
      expect(error.problems).toEqual([{ key: 'WORKER_CONCURRENCY', problems: ['every concurrency must be at least 1'] }]);
    });

    it('takes min..max ranges (autoscaled), starting each queue at its min', () => {
      const { worker } = loadAppConfig({ DATABASE_URL: PG_URL, WORKER_CONCURRENCY: 'files=2..8, system=3, *=1..20' });
      expect(worker).toMatchObject({ defaultConcurrency: 1, concurrency: { files: 2, system: 3 } });
      expect(worker.concurrencyRanges).toEqual({ files: { min: 2, max: 8 }, '*': { min: 1, max: 20 } });
      expect(concurrencyRangeOf(worker, 'files')).toEqual({ min: 2, max: 8 });
      expect(concurrencyRangeOf(worker, 'system')).toEqual({ min: 3, max: 3 }); // its fixed value beats the default range
      expect(concurrencyRangeOf(worker, 'webhooks')).toEqual({ min: 1, max: 20 });
      expect(concurrencyRangeOf(loadAppConfig({ DATABASE_URL: PG_URL, WORKER_CONCURRENCY: '4..4' }).worker, 'x')).toEqual({ min: 4, max: 4 });
      expect(concurrencyRangeOf(loadAppConfig({ DATABASE_URL: PG_URL, WORKER_CONCURRENCY: '6' }).worker, 'x')).toEqual({ min: 6, max: 6 });
    });

    it.each([
      ['5..2', 'the range 5..2 must be min..max with min <= max'],
      ['files=8..2', 'the range 8..2 of files must be min..max with min <= max'],
    ])('refuses the inverted range %j', (raw, message) => {
      const error = configError({ DATABASE_URL: PG_URL, WORKER_CONCURRENCY: raw });
      expect(error.problems).toEqual([{ key: 'WORKER_CONCURRENCY', problems: [message] }]);
    });

    it.each(['a..b', '1..', '..4', '1...4', 'files=1..x'])('refuses the malformed range %j', (raw) => {
      const error = configError({ DATABASE_URL: PG_URL, WORKER_CONCURRENCY: raw });
      expect(problemKeys(error.problems)).toEqual(['WORKER_CONCURRENCY']);
      expect(error.message).toMatch(/WORKER_CONCURRENCY must be n or min\.\.max/);
    });

    it('has autoscaling and recycling defaults, and takes them from the environment', () => {
      expect(loadAppConfig({ DATABASE_URL: PG_URL }).worker).toMatchObject({
        autoscale: { intervalMs: 1000, step: 2, idleMs: 10_000, maxEventLoopDelayMs: 100, maxCpuPercent: 90 },
        maxTasks: 0,
        maxRssMb: 0,
      });
      const { worker } = loadAppConfig({
        DATABASE_URL: PG_URL,
        WORKER_AUTOSCALE_INTERVAL_MS: '500',
        WORKER_AUTOSCALE_STEP: '4',
        WORKER_AUTOSCALE_IDLE_MS: '0',
        WORKER_AUTOSCALE_MAX_EVENT_LOOP_DELAY_MS: '50',
        WORKER_AUTOSCALE_MAX_CPU: '150',
        WORKER_MAX_TASKS: '50',
        WORKER_MAX_RSS: '512',
      });
      expect(worker).toMatchObject({
        autoscale: { intervalMs: 500, step: 4, idleMs: 0, maxEventLoopDelayMs: 50, maxCpuPercent: 150 },
        maxTasks: 50,
        maxRssMb: 512,
      });
      expect(problemKeys(configError({ DATABASE_URL: PG_URL, WORKER_AUTOSCALE_STEP: '0', WORKER_MAX_TASKS: '-1' }).problems).sort()).toEqual([
        'WORKER_AUTOSCALE_STEP',
        'WORKER_MAX_TASKS',
      ]);
    });
  });

  describe('HTTP server limits and TRUST_PROXY', () => {
    it('trusts no proxy and bounds slow requests by default', () => {
      const { http, security } = loadAppConfig({ DATABASE_URL: PG_URL });
      expect(http).toEqual({
        headersTimeoutMs: 10_000,
        requestTimeoutMs: 300_000,
        keepAliveTimeoutMs: 72_000,
        maxConnectionsPerAddress: 256,
        reusePort: false,
        trustProxy: false,
      });
      expect(security.authFailuresPerMinute).toBe(60);
    });

    it('takes a list of proxy addresses, CIDRs and proxy-addr names', () => {
      const { http } = loadAppConfig({ DATABASE_URL: PG_URL, TRUST_PROXY: ' 10.0.0.1, 10.1.0.0/16,fd00::/8 ,loopback' });
      expect(http.trustProxy).toEqual(['10.0.0.1', '10.1.0.0/16', 'fd00::/8', 'loopback']);
    });

    it('refuses "true", hop counts and malformed entries: each would let a client pick its address', () => {
      for (const value of ['true', '1', '10.0.0.0/33', '10.0.0.1/8/1', 'proxy.internal']) {
        const error = configError({ DATABASE_URL: PG_URL, TRUST_PROXY: value });
        expect({ value, keys: problemKeys(error.problems) }).toEqual({ value, keys: ['TRUST_PROXY'] });
      }
    });

    it('refuses a header timeout longer than the request timeout', () => {
      const error = configError({ DATABASE_URL: PG_URL, HTTP_HEADERS_TIMEOUT_MS: '5000', HTTP_REQUEST_TIMEOUT_MS: '2000' });
      expect(problemKeys(error.problems)).toEqual(['HTTP_HEADERS_TIMEOUT_MS']);
    });
  });

  describe('validation errors', () => {
    it('lists every offending key at once', () => {
      const error = configError({
        DATABASE_URL: PG_URL,
        PORT: 'abc',
        REDIS_URL: 'http://x',
        WORKER_HEALTH_PORT: '70000',
        LOG_LEVEL: 'loud',
        DB_SSL: 'maybe',
      });
      expect(error).toBeInstanceOf(Error);
      expect(error.name).toBe('ConfigValidationError');
      expect(problemKeys(error.problems)).toEqual(['DB_SSL', 'LOG_LEVEL', 'PORT', 'REDIS_URL', 'WORKER_HEALTH_PORT']);
      for (const problem of error.problems) expect(problem.problems.length).toBeGreaterThan(0);
      for (const key of ['PORT', 'REDIS_URL', 'WORKER_HEALTH_PORT', 'LOG_LEVEL', 'DB_SSL']) {
        expect(error.message).toMatch(new RegExp(`^  - ${key}: `, 'm'));
      }
    });

    it('lists the missing database together with the other problems', () => {
      const error = configError({ PORT: '-1' });
      expect(problemKeys(error.problems)).toEqual(['DATABASE_URL', 'PORT']);
    });

    it('refuses a fractional number instead of truncating it', () => {
      expect(problemKeys(configError({ DATABASE_URL: PG_URL, PORT: '80.5' }).problems)).toEqual(['PORT']);
    });
  });
});
