import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { getMetadataStorage } from 'class-validator';
import { loadAppConfig, type ConfigValidationError } from './app-config';
import { describeProblems, knownEnvironmentKeys, maskValue, suspiciousKeys } from './config-diagnostics';
import { EnvironmentSchema } from './environment.schema';

describe('config diagnostics (validate-config)', () => {
  it('knows the schema keys and the ops keys', () => {
    const known = knownEnvironmentKeys();
    for (const key of ['QUEUE_PREFIX', 'DATABASE_URL', 'WORKER_CONCURRENCY', 'EXPORT_LINK_SECRET', 'ENV_FILE', 'MODE']) expect(known).toContain(key);
  });

  it('knows the Sentinel and Cluster keys and hides the sentinel password', () => {
    const known = knownEnvironmentKeys();
    for (const key of ['REDIS_SENTINELS', 'REDIS_SENTINEL_NAME', 'REDIS_SENTINEL_PASSWORD', 'REDIS_CLUSTER_NODES']) expect(known).toContain(key);
    expect(maskValue('REDIS_SENTINEL_PASSWORD', 'hunter2')).not.toContain('hunter2');
    expect(suspiciousKeys({ REDIS_SENTINEL: 'a:1' })).toEqual([['REDIS_SENTINEL', 'REDIS_SENTINELS']]);
  });

  it("knows OpenTelemetry's standard keys, checks their values, and flags a misspelt one", () => {
    const known = knownEnvironmentKeys();
    for (const key of ['OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_EXPORTER_OTLP_HEADERS', 'OTEL_SERVICE_NAME', 'OTEL_BSP_SCHEDULE_DELAY']) {
      expect(known).toContain(key);
    }
    expect(suspiciousKeys({ OTEL_SERVICE_NAM: 'x', OTEL_SDK_DISABLED: 'true' })).toEqual([['OTEL_SERVICE_NAM', 'OTEL_SERVICE_NAME']]);
    const base = { DATABASE_URL: 'postgres://h/db' };
    expect(() =>
      loadAppConfig({
        ...base,
        OTEL_TRACES_EXPORTER: 'otlp',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http/json',
        OTEL_TRACES_SAMPLER: 'parentbased_traceidratio',
        OTEL_TRACES_SAMPLER_ARG: '0.25',
      }),
    ).not.toThrow();
    let problems = '';
    try {
      loadAppConfig({
        ...base,
        OTEL_TRACES_EXPORTER: 'jaegr',
        OTEL_EXPORTER_OTLP_PROTOCOL: 'http',
        OTEL_EXPORTER_OTLP_ENDPOINT: 'collector:4318',
        OTEL_SDK_DISABLED: 'yes',
      });
    } catch (error) {
      problems = (error as ConfigValidationError).message;
    }
    for (const key of ['OTEL_TRACES_EXPORTER', 'OTEL_EXPORTER_OTLP_PROTOCOL', 'OTEL_EXPORTER_OTLP_ENDPOINT', 'OTEL_SDK_DISABLED'])
      expect(problems).toContain(key);
  });

  it('flags likely typos of our keys and names the key meant', () => {
    const env = { QUEUE_PREFX: 'x', WORKER_CONCURENCY: '5', DATABSE_URL: 'postgres://h/db', REDIS_ULR: 'redis://h', PROT: '3000', QUEUE_PREFIX: 'ok' };
    expect(suspiciousKeys(env)).toEqual([
      ['DATABSE_URL', 'DATABASE_URL'],
      ['PROT', 'PORT'],
      ['QUEUE_PREFX', 'QUEUE_PREFIX'],
      ['REDIS_ULR', 'REDIS_URL'],
      ['WORKER_CONCURENCY', 'WORKER_CONCURRENCY'],
    ]);
  });

  it('leaves ordinary environment variables alone', () => {
    const env = {
      PATH: '/bin',
      PWD: '/',
      HOME: '/root',
      TERM: 'xterm',
      USER: 'u',
      SHELL: 'sh',
      LANG: 'C',
      HOSTNAME: 'h',
      NODE_OPTIONS: '',
      npm_config_cache: 'x',
      PORTS: '1',
    };
    expect(suspiciousKeys(env).filter(([name]) => name !== 'PORTS')).toEqual([]);
  });

  it('masks secrets and URL passwords, shows everything else', () => {
    expect(maskValue('CONVEYOR_ADMIN_KEY', 'abcdefghij')).toBe('<10 characters, hidden>');
    expect(maskValue('DB_PASSWORD', 'pw')).toBe('<2 characters, hidden>');
    expect(maskValue('DATABASE_URL', 'postgres://me:s3cret@db:5432/x')).toBe('postgres://me:***@db:5432/x');
    expect(maskValue('PORT', 'eighty')).toBe('eighty');
  });

  it('describes each problem with the value that caused it, secrets hidden', () => {
    const env = { PORT: 'eighty', CONVEYOR_ADMIN_KEY: 'short-secret', DATABASE_URL: 'postgres://h/db' };
    let error: ConfigValidationError | undefined;
    try {
      loadAppConfig(env);
    } catch (caught) {
      error = caught as ConfigValidationError;
    }
    const text = describeProblems(error!.problems, env);
    expect(text).toMatch(/^ {2}- PORT="eighty": /m);
    expect(text).toMatch(/^ {2}- CONVEYOR_ADMIN_KEY="<12 characters, hidden>": CONVEYOR_ADMIN_KEY must be at least 16 characters/m);
    expect(text).not.toMatch(/short-secret/);
  });
});

describe('.env.example', () => {
  it('documents every key of the schema (and names no key Conveyor does not know)', () => {
    const text = readFileSync(join(__dirname, '..', '..', '..', '.env.example'), 'utf8');
    const documented = new Set([...text.matchAll(/^#? ?([A-Z][A-Z0-9_]+)=/gm)].map((match) => match[1]));
    const schemaKeys = getMetadataStorage()
      .getTargetValidationMetadatas(EnvironmentSchema, '', true, false)
      .map((metadata) => metadata.propertyName);
    expect([...new Set(schemaKeys)].filter((key) => !documented.has(key)).sort()).toEqual([]);
    const known = new Set(knownEnvironmentKeys());
    expect([...documented].filter((key) => !known.has(key)).sort()).toEqual([]);
  });
});
