import 'reflect-metadata';
import { randomBytes } from 'node:crypto';
import { existsSync } from 'node:fs';
import { isIP } from 'node:net';
import { hostname } from 'node:os';
import { plainToInstance } from 'class-transformer';
import { validateSync, type ValidationError } from 'class-validator';
import { EnvironmentSchema } from './environment.schema';

export type DatabaseType = 'postgres' | 'mysql';

export interface DatabaseConfig {
  type: DatabaseType;
  /** Set when configured through DATABASE_URL; otherwise host/port/… are used. */
  url?: string;
  host: string;
  port: number;
  username?: string;
  password?: string;
  database: string;
  ssl: boolean;
  poolSize: number;
  /** Wait for a pooled or new connection before giving up (the database is down or saturated). */
  connectTimeoutMs: number;
  /** Longest a statement may run or go unanswered (a hung database must not hang requests). */
  statementTimeoutMs: number;
  migrationsRun: boolean;
}

export interface RedisConfig {
  url?: string;
  host: string;
  /** Redis 6+ ACL user; omitted for the default user. */
  username?: string;
  port: number;
  password?: string;
  db: number;
  tls: boolean;
  /**
   * Redis Sentinel (REDIS_SENTINELS): the sentinels to ask for the current master of `name`.
   * host/port are then unused; password, username, db and tls apply to the master.
   */
  sentinel?: { nodes: RedisNode[]; name: string; password?: string };
  /** Redis Cluster (REDIS_CLUSTER_NODES): seed nodes; host/port are then unused and db is 0. */
  clusterNodes?: RedisNode[];
}

export interface RedisNode {
  host: string;
  port: number;
}

export interface WorkerConfig {
  /** Queues this deployment consumes; `null` means every registered queue. */
  queues: string[] | null;
  /** Concurrency a queue starts with (for a `min..max` range: min); see {@link concurrencyRangeOf}. */
  defaultConcurrency: number;
  concurrency: Record<string, number>;
  /** Autoscaled queues: the WORKER_CONCURRENCY ranges by queue, `*` for the default. */
  concurrencyRanges: Record<string, ConcurrencyRange>;
  autoscale: AutoscaleConfig;
  /** Recycling: after this many tasks the worker exits to be replaced (0: never). */
  maxTasks: number;
  /** Recycling: above this RSS in MB the worker exits to be replaced (0: never). */
  maxRssMb: number;
  id: string;
  healthPort: number;
  shutdownGraceMs: number;
  /** BullMQ lock of a running job; a crashed worker's job is released this long after its last renewal. */
  lockDurationMs: number;
  /** How often BullMQ looks for jobs whose lock expired (stalled) and hands them to another worker. */
  stalledIntervalMs: number;
  /** An event-loop stall at least this long is logged and makes readiness report degraded for a while. */
  eventLoopBlockMs: number;
  /**
   * Completions a worker may acknowledge to BullMQ before the ledger has committed them (the
   * job is kept in Redis until it has); past this many it waits for the ledger. 0: the ledger
   * always commits first.
   */
  writeBehindMax: number;
}

export interface ConcurrencyRange {
  min: number;
  max: number;
}

/** How the worker moves an autoscaled queue's concurrency within its range (README "Operating queues"). */
export interface AutoscaleConfig {
  intervalMs: number;
  step: number;
  idleMs: number;
  maxEventLoopDelayMs: number;
  /** Percent of one core (worker threads count too). */
  maxCpuPercent: number;
}

/** The range a worker runs `queue` in: its own entry, else the default; a fixed value is min = max. */
export function concurrencyRangeOf(worker: Pick<WorkerConfig, 'defaultConcurrency' | 'concurrency' | 'concurrencyRanges'>, queue: string): ConcurrencyRange {
  const fixed = worker.concurrency[queue];
  const range = worker.concurrencyRanges[queue] ?? (fixed === undefined ? worker.concurrencyRanges['*'] : undefined);
  if (range) return { ...range };
  const value = fixed ?? worker.defaultConcurrency;
  return { min: value, max: value };
}

/** Fairness between tenants (README "Fairness"): fair ordering in each queue and per-tenant caps. */
export interface FairnessConfig {
  enabled: boolean;
  /** Running tasks per tenant and queue, across all workers, unless an admin set the tenant's own; 0: no cap. */
  tenantConcurrencyDefault: number;
  /**
   * A tenant over its cap still runs while no other tenant's task waits near the front of the
   * queue (spare capacity is used); off: the cap is strict, a reserve for others.
   */
  borrow: boolean;
  /** A task over its tenant's cap waits this long in the delayed set, then is tried again. */
  deferMs: number;
}

/** Housekeeping: the reconciler and retention run as tasks of system schedules (one task per tick). */
export interface MaintenanceConfig {
  /** Period of the reconciler's system schedule (0: off, else at least 1000). */
  reconcileIntervalMs: number;
  /** A ledger row must be unchanged this long before its missing job is re-queued. */
  reconcileMinAgeMs: number;
  /** Period of the retention purge's system schedule (0: off, else at least 1000). */
  retentionIntervalMs: number;
  /** Period of the background migrations' watch (restarts stalled chains; 0: off, else at least 1000). */
  backgroundMigrationWatchMs: number;
}

/** The schedule runner: fires the due ticks of every schedule (see libs/schedules). */
export interface SchedulerConfig {
  /** `null`: the app's default (on in the worker, off in the API). */
  enabled: boolean | null;
  /** How often the runner looks for due schedules. */
  intervalMs: number;
  /** A tick later than this is "missed" and handled by the schedule's `missed` policy. */
  missedGraceMs: number;
}

/** Webhook delivery (see libs/webhooks): SSRF rules, timing, limits. */
export interface WebhooksConfig {
  /** CIDRs deliveries may reach although the deny list covers them. */
  allowedCidrs: string[];
  /** Allowed ports: `null` = any. */
  allowedPorts: Array<[number, number]> | null;
  allowHttp: boolean;
  timeoutMs: number;
  disableAfterMs: number;
  secretGraceMs: number;
  endpointConcurrency: number;
  activationDelayMs: number;
  pollIntervalMs: number;
  maxPayloadBytes: number;
  /** Encrypts signing secrets at rest (32 bytes); null: none configured (see libs/webhooks secret-sealer). */
  secretKey: Buffer | null;
  /** Former keys, for decryption only (key rotation). */
  secretKeysOld: Buffer[];
}

export interface TaskDefaultsConfig {
  maxAttempts: number;
  timeoutMs: number;
  ttlSeconds: number;
  progressIntervalMs: number;
  /** Largest result (as JSON text) a task may return; a bigger one fails it with RESULT_TOO_LARGE. */
  maxResultBytes: number;
  /** Unfinished tasks one tenant may have at once; 0 = no cap. */
  maxUnfinishedPerTenant: number;
  /** Task log lines (`ctx.log`) kept per attempt; 0 (or logMaxBytes 0) turns storage off. */
  logMaxLines: number;
  /** Bytes of task log lines (message and fields as JSON) kept per attempt. */
  logMaxBytes: number;
}

/** Error reporting to Sentry (libs/observability's ErrorReporter); off without a DSN. */
export interface ErrorReportingConfig {
  dsn: string | null;
  environment: string;
  /** Attach task payloads to task failure reports. */
  sendPayload: boolean;
}

export interface StorageConfig {
  driver: 'local' | 's3';
  /** Local driver: the root directory. */
  dir: string;
  s3?: { endpoint?: string; region: string; bucket: string; accessKeyId?: string; secretAccessKey?: string; forcePathStyle: boolean };
}

/** Exports (libs/exports): download links and how long files are kept. */
export interface ExportsConfig {
  /** HMAC key of download links. */
  linkSecret: string;
  /** True when EXPORT_LINK_SECRET was unset: a random key per process (links verify only where issued). */
  linkSecretGenerated: boolean;
  linkTtlSeconds: number;
  retentionSeconds: number;
}

export interface SecurityConfig {
  /** Bootstrap admin key; undefined disables it. */
  adminKey?: string;
  authCacheTtlMs: number;
  rateLimitPerMinute: number;
  /** Failed authentications per minute per client address before 429 (0: off). */
  authFailuresPerMinute: number;
  jsonBodyLimitBytes: number;
  /** Allowed CORS origins; empty = CORS off. */
  corsOrigins: string[];
  /** Payload fields censored in logs (dot paths). */
  redactPayloadFields: string[];
}

/** Per-request limits of the API, beyond the body's byte size (see JSON_MAX_* and SSE_MAX_*). */
export interface RequestLimitsConfig {
  /** Shape limits of any parsed input: JSON and form bodies, queries, JSON form fields. */
  json: { maxDepth: number; maxKeys: number; maxArrayLength: number; maxNodes: number };
  /** Open task event streams per API key. */
  streamsPerKey: number;
  /** Open task event streams per API process. */
  streamsPerProcess: number;
}

/**
 * Which peers may tell the client's address in X-Forwarded-For: none (`false`) or the listed
 * addresses / CIDRs (and proxy-addr's names loopback, linklocal, uniquelocal), the form
 * Fastify's `trustProxy` takes. No hop count: it cannot tell a proxy from a client that sends
 * enough forwarded hops of its own (Fastify ignores one for that reason).
 */
export type TrustedProxies = false | string[];

/** Limits of the API's HTTP server against slow or greedy clients. */
export interface HttpServerConfig {
  headersTimeoutMs: number;
  /** The whole request (headers and body) must have arrived within this. */
  requestTimeoutMs: number;
  keepAliveTimeoutMs: number;
  /** Open connections per client address (0: no cap); trusted proxies are exempt. */
  maxConnectionsPerAddress: number;
  /** SO_REUSEPORT: API processes share the port (rolling restarts without a cluster master). */
  reusePort: boolean;
  trustProxy: TrustedProxies;
}

export interface AppConfig {
  env: 'development' | 'production' | 'test';
  port: number;
  logLevel: string;
  /** METRICS_TENANT_LABEL: task counters carry a `tenant` label (off: no series per tenant). */
  metricsTenantLabel: boolean;
  database: DatabaseConfig;
  redis: RedisConfig;
  queuePrefix: string;
  /**
   * Stored names of queues a deployment keeps under another name than its contract's (a queue
   * name is a stored API): contract name → name in Redis and the ledger. QUEUE_NAME renames
   * `file-processing`.
   */
  queueNames: Readonly<Record<string, string>>;
  worker: WorkerConfig;
  fairness: FairnessConfig;
  tasks: TaskDefaultsConfig;
  errorReporting: ErrorReportingConfig;
  maintenance: MaintenanceConfig;
  scheduler: SchedulerConfig;
  webhooks: WebhooksConfig;
  storageDir: string;
  storage: StorageConfig;
  maxUploadBytes: number;
  exports: ExportsConfig;
  security: SecurityConfig;
  limits: RequestLimitsConfig;
  http: HttpServerConfig;
  startupTimeoutMs: number;
  /** IDLE_COMPACT_AFTER_MS: idle time after which the process gives its spare heap back (0: off). */
  idleCompactAfterMs: number;
}

export interface ConfigProblem {
  key: string;
  problems: string[];
}

/** Thrown when the environment does not satisfy {@link EnvironmentSchema}; lists every offending key. */
export class ConfigValidationError extends Error {
  constructor(readonly problems: ConfigProblem[]) {
    super('Invalid configuration:\n' + problems.map((p) => `  - ${p.key}: ${p.problems.join('; ')}`).join('\n'));
    this.name = 'ConfigValidationError';
  }
}

const DEFAULT_PORTS: Record<DatabaseType, number> = { postgres: 5432, mysql: 3306 };

/**
 * Loads `.env` (or ENV_FILE) into process.env without overriding variables already set, the
 * usual precedence: the real environment wins over the file.
 */
export function loadEnvFile(env: NodeJS.ProcessEnv = process.env): void {
  const file = env.ENV_FILE ?? '.env';
  if (existsSync(file)) process.loadEnvFile(file);
}

function toProblems(errors: ValidationError[]): ConfigProblem[] {
  return errors.map((error) => ({
    key: error.property,
    problems: Object.values(error.constraints ?? {}),
  }));
}

function parseDatabase(env: EnvironmentSchema, problems: ConfigProblem[]): DatabaseConfig {
  const common = {
    ssl: env.DB_SSL ?? false,
    poolSize: env.DB_POOL_SIZE ?? 10,
    connectTimeoutMs: env.DB_CONNECT_TIMEOUT_MS ?? 5000,
    statementTimeoutMs: env.DB_STATEMENT_TIMEOUT_MS ?? 15_000,
    migrationsRun: env.DB_MIGRATIONS_RUN ?? false,
  };
  const url = env.DATABASE_URL ? parseUrl('DATABASE_URL', env.DATABASE_URL, problems) : undefined;
  if (env.DATABASE_URL && url) {
    const type: DatabaseType = url.protocol.startsWith('postgres') ? 'postgres' : 'mysql';
    return {
      ...common,
      type,
      url: env.DATABASE_URL,
      host: bareHost(url.hostname),
      port: url.port ? Number(url.port) : DEFAULT_PORTS[type],
      username: url.username ? decodeURIComponent(url.username) : undefined,
      password: url.password ? decodeURIComponent(url.password) : undefined,
      database: decodeURIComponent(url.pathname.replace(/^\//, '')) || 'conveyor',
      ssl: common.ssl || url.searchParams.get('sslmode') === 'require',
    };
  }
  if (!env.DB_HOST) {
    problems.push({
      key: 'DATABASE_URL',
      problems: ['no database configured: set DATABASE_URL (or DB_TYPE + DB_HOST + …), ' + 'or start with `npm run dev`, which serves an embedded PostgreSQL'],
    });
  }
  const type: DatabaseType = env.DB_TYPE === 'postgres' || !env.DB_TYPE ? 'postgres' : 'mysql';
  return {
    ...common,
    type,
    host: env.DB_HOST ?? '127.0.0.1',
    port: env.DB_PORT ?? DEFAULT_PORTS[type],
    username: env.DB_USERNAME,
    password: env.DB_PASSWORD,
    database: env.DB_DATABASE ?? 'conveyor',
  };
}

/** `new URL` with its TypeError turned into a problem of the key, so every bad key is still listed. */
function parseUrl(key: string, value: string, problems: ConfigProblem[]): URL | undefined {
  try {
    return new URL(value);
  } catch {
    problems.push({ key, problems: [`${key} is not a valid URL`] });
    return undefined;
  }
}

/** IPv6 literals come out of URL.hostname in brackets; connection libraries want them bare. */
const bareHost = (hostname: string) => hostname.replace(/^\[(.*)\]$/, '$1');

function parseRedisServer(env: EnvironmentSchema, problems: ConfigProblem[]): RedisConfig {
  const url = env.REDIS_URL ? parseUrl('REDIS_URL', env.REDIS_URL, problems) : undefined;
  if (env.REDIS_URL && url) {
    const dbText = url.pathname.replace(/^\//, '');
    const db = dbText === '' ? (env.REDIS_DB ?? 0) : Number(dbText);
    if (!/^\d*$/.test(dbText) || db > 15) {
      problems.push({ key: 'REDIS_URL', problems: ['the database number in REDIS_URL must be 0-15'] });
    }
    return {
      url: env.REDIS_URL,
      host: bareHost(url.hostname) || '127.0.0.1',
      port: url.port ? Number(url.port) : 6379,
      username: url.username ? decodeURIComponent(url.username) : undefined,
      password: url.password ? decodeURIComponent(url.password) : env.REDIS_PASSWORD,
      db,
      tls: url.protocol === 'rediss:' || (env.REDIS_TLS ?? false),
    };
  }
  return {
    host: env.REDIS_HOST ?? '127.0.0.1',
    port: env.REDIS_PORT ?? 6379,
    password: env.REDIS_PASSWORD,
    db: env.REDIS_DB ?? 0,
    tls: env.REDIS_TLS ?? false,
  };
}

const splitList = (raw: string | undefined) =>
  (raw ?? '')
    .split(',')
    .map((item) => item.trim())
    .filter(Boolean);

/** A `host:port` list (IPv6 hosts in brackets); null (and a problem of the key) when malformed. */
function parseNodes(key: string, raw: string | undefined, problems: ConfigProblem[]): RedisNode[] | null {
  const entries = splitList(raw);
  if (entries.length === 0) return null;
  const nodes: RedisNode[] = [];
  for (const entry of entries) {
    const match = /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):(\d{1,5})$/.exec(entry);
    const port = Number(match?.[2]);
    if (!match || port < 1 || port > 65535) {
      problems.push({ key, problems: [`${key} must be a comma-separated list of host:port (got "${entry}")`] });
      return null;
    }
    nodes.push({ host: bareHost(match[1]), port });
  }
  return nodes;
}

/**
 * Where Redis is: one server (REDIS_URL or REDIS_HOST/PORT), a master found through Sentinel
 * (REDIS_SENTINELS + REDIS_SENTINEL_NAME) or a Redis Cluster (REDIS_CLUSTER_NODES).
 */
function parseRedis(env: EnvironmentSchema, problems: ConfigProblem[]): RedisConfig {
  const redis = parseRedisServer(env, problems);
  const sentinels = parseNodes('REDIS_SENTINELS', env.REDIS_SENTINELS, problems);
  const clusterNodes = parseNodes('REDIS_CLUSTER_NODES', env.REDIS_CLUSTER_NODES, problems);
  if (sentinels && clusterNodes) {
    problems.push({ key: 'REDIS_CLUSTER_NODES', problems: ['set either REDIS_CLUSTER_NODES or REDIS_SENTINELS, not both'] });
  }
  if (sentinels) {
    if (!env.REDIS_SENTINEL_NAME)
      problems.push({ key: 'REDIS_SENTINEL_NAME', problems: ['required with REDIS_SENTINELS: the master name the sentinels monitor'] });
    redis.sentinel = { nodes: sentinels, name: env.REDIS_SENTINEL_NAME ?? '', password: env.REDIS_SENTINEL_PASSWORD };
  } else if (env.REDIS_SENTINEL_NAME) {
    problems.push({ key: 'REDIS_SENTINELS', problems: ['required with REDIS_SENTINEL_NAME'] });
  }
  if (clusterNodes) {
    if (redis.db !== 0) problems.push({ key: env.REDIS_URL ? 'REDIS_URL' : 'REDIS_DB', problems: ['a Redis Cluster has database 0 only'] });
    redis.clusterNodes = clusterNodes;
  }
  return redis;
}

/**
 * The BullMQ key prefix. On a Redis Cluster it is a hash tag (`{conveyor}`): every key of every
 * queue, and every key Conveyor adds under the prefix, then lives in one slot, as BullMQ's Lua
 * scripts, flows across queues and Conveyor's own scripts need.
 */
function queuePrefixOf(env: EnvironmentSchema, redis: RedisConfig): string {
  const prefix = env.QUEUE_PREFIX ?? 'conveyor';
  return redis.clusterNodes ? `{${prefix}}` : prefix;
}

const PROXY_NAMES = new Set(['loopback', 'linklocal', 'uniquelocal']);

function isAddressOrCidr(entry: string): boolean {
  const [address, bits, extra] = entry.split('/');
  const family = isIP(address);
  if (family === 0 || extra !== undefined) return false;
  if (bits === undefined) return true;
  return /^\d{1,3}$/.test(bits) && Number(bits) <= (family === 4 ? 32 : 128);
}

/** TRUST_PROXY: unset trusts nobody; otherwise the list of proxies. */
function parseTrustProxy(raw: string | undefined, problems: ConfigProblem[]): TrustedProxies {
  const entries = splitList(raw);
  if (entries.length === 0) return false;
  // "true" or a hop count would let any client choose the address it is counted under.
  const bad = entries.filter((entry) => !PROXY_NAMES.has(entry) && !isAddressOrCidr(entry));
  if (bad.length > 0) {
    problems.push({ key: 'TRUST_PROXY', problems: [`not an address, CIDR or loopback/linklocal/uniquelocal: ${bad.join(', ')}`] });
  }
  return entries;
}

/** Short, low-variety or placeholder-looking secrets. */
function isWeakSecret(secret: string): boolean {
  if (secret.length < 32) return true;
  if (new Set(secret).size < 12) return true;
  return /change[-_ ]?me|example|password|secret|admin|conveyor|test/i.test(secret);
}

function parseQueueList(raw: string | undefined): string[] | null {
  const text = raw?.trim();
  if (!text || text === '*') return null;
  return [
    ...new Set(
      text
        .split(',')
        .map((name) => name.trim())
        .filter(Boolean),
    ),
  ];
}

interface ParsedConcurrency {
  defaultConcurrency: number;
  perQueue: Record<string, number>;
  ranges: Record<string, ConcurrencyRange>;
  problems: string[];
}

/** `n`, `min..max`, or a list of `queue=` either (`*` the default); the format itself is checked by the schema. */
function parseConcurrency(raw: string | undefined): ParsedConcurrency {
  const parsed: ParsedConcurrency = { defaultConcurrency: 10, perQueue: {}, ranges: {}, problems: [] };
  const text = raw?.trim();
  if (!text) return parsed;
  const entries = text.includes('=') ? text.split(',').map((entry) => entry.split('=').map((part) => part.trim())) : [['*', text]];
  for (const [name, value] of entries) {
    const [min, max = min] = value.split('..').map(Number);
    if (!(min >= 1)) parsed.problems.push('every concurrency must be at least 1');
    else if (max < min) parsed.problems.push(`the range ${value}${name === '*' ? '' : ` of ${name}`} must be min..max with min <= max`);
    if (name === '*') parsed.defaultConcurrency = min;
    else parsed.perQueue[name] = min;
    if (value.includes('..')) parsed.ranges[name] = { min, max };
  }
  parsed.problems = [...new Set(parsed.problems)];
  return parsed;
}

function parsePorts(raw: string | undefined, problems: ConfigProblem[]): Array<[number, number]> | null {
  const text = raw?.trim() || '443';
  if (text === '*') return null;
  const ranges = splitList(text)
    .map((entry) => entry.split('-').map(Number))
    .map(([low, high]) => [low, high ?? low] as [number, number]);
  if (ranges.some(([low, high]) => low < 1 || high > 65535 || low > high)) {
    problems.push({ key: 'WEBHOOK_ALLOWED_PORTS', problems: ['ports must be 1-65535, ranges low-high'] });
  }
  return ranges;
}

const KEY_HINT = 'must be 32 random bytes in base64 (44 characters), e.g. `openssl rand -base64 32`';

/** A 32-byte key in base64 (standard or URL-safe alphabet); anything else is a problem of `key`. */
function parseKey(key: string, raw: string, problems: ConfigProblem[]): Buffer | null {
  const text = raw.trim();
  const bytes = /^[A-Za-z0-9+/_-]{43}=?$/.test(text) ? Buffer.from(text, text.includes('-') || text.includes('_') ? 'base64url' : 'base64') : null;
  if (bytes?.length === 32) return bytes;
  problems.push({ key, problems: [KEY_HINT] });
  return null;
}

function parseSecretKeys(env: EnvironmentSchema, problems: ConfigProblem[]): { secretKey: Buffer | null; secretKeysOld: Buffer[] } {
  const secretKey = env.WEBHOOK_SECRET_KEY ? parseKey('WEBHOOK_SECRET_KEY', env.WEBHOOK_SECRET_KEY, problems) : null;
  const secretKeysOld = splitList(env.WEBHOOK_SECRET_KEYS_OLD)
    .map((entry) => parseKey('WEBHOOK_SECRET_KEYS_OLD', entry, problems))
    .filter((key): key is Buffer => key !== null);
  return { secretKey, secretKeysOld };
}

function parseCidrs(raw: string | undefined, problems: ConfigProblem[]): string[] {
  const entries = splitList(raw);
  const bad = entries.filter((entry) => !entry.includes('/') || !isAddressOrCidr(entry));
  if (bad.length > 0) problems.push({ key: 'WEBHOOK_ALLOWED_CIDRS', problems: [`not a CIDR: ${bad.join(', ')}`] });
  return entries;
}

/**
 * Validates an environment and turns it into the typed configuration both apps use.
 * Throws {@link ConfigValidationError} naming every bad key, so a deployment fails at once
 * and says what to fix instead of failing later on first use.
 */
export function loadAppConfig(raw: NodeJS.ProcessEnv = process.env): AppConfig {
  // An empty value (`KEY=` as in .env.example) means "not set", not "set to the empty string".
  const present = Object.fromEntries(Object.entries(raw).filter(([, value]) => value !== undefined && value.trim() !== ''));
  const env = plainToInstance(EnvironmentSchema, present, { exposeDefaultValues: true });
  const problems = toProblems(validateSync(env, { skipMissingProperties: false }));
  const concurrency = parseConcurrency(env.WORKER_CONCURRENCY);
  const concurrencyMalformed = problems.some((p) => p.key === 'WORKER_CONCURRENCY');
  if (!concurrencyMalformed && concurrency.problems.length > 0) problems.push({ key: 'WORKER_CONCURRENCY', problems: concurrency.problems });
  if (env.NODE_ENV === 'production' && env.CONVEYOR_ADMIN_KEY && isWeakSecret(env.CONVEYOR_ADMIN_KEY)) {
    problems.push({
      key: 'CONVEYOR_ADMIN_KEY',
      problems: ['too weak for production: use at least 32 random characters (e.g. `openssl rand -base64 32`)'],
    });
  }
  if (env.NODE_ENV === 'production' && env.EXPORT_LINK_SECRET && isWeakSecret(env.EXPORT_LINK_SECRET)) {
    problems.push({ key: 'EXPORT_LINK_SECRET', problems: ['too weak for production: use at least 32 random characters (e.g. `openssl rand -base64 32`)'] });
  }
  if (env.STORAGE_DRIVER === 's3' && !env.S3_BUCKET) {
    problems.push({ key: 'S3_BUCKET', problems: ['required when STORAGE_DRIVER=s3'] });
  }
  // Each is the everyMs of a system schedule, whose floor is 1 s (as for any schedule).
  for (const key of ['RECONCILE_INTERVAL_MS', 'RETENTION_INTERVAL_MS', 'BACKGROUND_MIGRATION_WATCH_MS'] as const) {
    const value = env[key];
    if (typeof value === 'number' && value > 0 && value < 1000 && !problems.some((p) => p.key === key)) {
      problems.push({ key, problems: ['must be 0 (off) or at least 1000'] });
    }
  }
  const database = parseDatabase(env, problems);
  const redis = parseRedis(env, problems);
  const trustProxy = parseTrustProxy(env.TRUST_PROXY, problems);
  const allowedPorts = problems.some((p) => p.key === 'WEBHOOK_ALLOWED_PORTS') ? null : parsePorts(env.WEBHOOK_ALLOWED_PORTS, problems);
  const allowedCidrs = parseCidrs(env.WEBHOOK_ALLOWED_CIDRS, problems);
  const secretKeys = parseSecretKeys(env, problems);
  const headersTimeoutMs = env.HTTP_HEADERS_TIMEOUT_MS ?? 10_000;
  const requestTimeoutMs = env.HTTP_REQUEST_TIMEOUT_MS ?? 300_000;
  if (headersTimeoutMs > requestTimeoutMs) {
    problems.push({ key: 'HTTP_HEADERS_TIMEOUT_MS', problems: ['must not exceed HTTP_REQUEST_TIMEOUT_MS'] });
  }
  if (problems.length > 0) throw new ConfigValidationError(problems);

  return {
    env: (env.NODE_ENV as AppConfig['env']) ?? 'development',
    port: env.PORT ?? 3000,
    logLevel: env.LOG_LEVEL ?? 'info',
    metricsTenantLabel: env.METRICS_TENANT_LABEL ?? false,
    database,
    redis,
    queuePrefix: queuePrefixOf(env, redis),
    queueNames: env.QUEUE_NAME ? { 'file-processing': env.QUEUE_NAME } : {},
    worker: {
      queues: parseQueueList(env.WORKER_QUEUES),
      defaultConcurrency: concurrency.defaultConcurrency,
      concurrency: concurrency.perQueue,
      concurrencyRanges: concurrency.ranges,
      autoscale: {
        intervalMs: env.WORKER_AUTOSCALE_INTERVAL_MS ?? 1000,
        step: env.WORKER_AUTOSCALE_STEP ?? 2,
        idleMs: env.WORKER_AUTOSCALE_IDLE_MS ?? 10_000,
        maxEventLoopDelayMs: env.WORKER_AUTOSCALE_MAX_EVENT_LOOP_DELAY_MS ?? 100,
        maxCpuPercent: env.WORKER_AUTOSCALE_MAX_CPU ?? 90,
      },
      maxTasks: env.WORKER_MAX_TASKS ?? 0,
      maxRssMb: env.WORKER_MAX_RSS ?? 0,
      id: env.WORKER_ID ?? `${hostname()}:${process.pid}`,
      healthPort: env.WORKER_HEALTH_PORT ?? 3001,
      shutdownGraceMs: env.SHUTDOWN_GRACE_MS ?? 30_000,
      lockDurationMs: env.WORKER_LOCK_DURATION_MS ?? 30_000,
      stalledIntervalMs: env.WORKER_STALLED_INTERVAL_MS ?? 30_000,
      eventLoopBlockMs: env.WORKER_EVENT_LOOP_BLOCK_MS ?? 1000,
      writeBehindMax: env.WORKER_WRITE_BEHIND_MAX ?? 1000,
    },
    fairness: {
      enabled: env.FAIRNESS ?? true,
      tenantConcurrencyDefault: env.TENANT_CONCURRENCY_DEFAULT ?? 0,
      borrow: env.TENANT_CONCURRENCY_BORROW ?? true,
      deferMs: env.FAIRNESS_DEFER_MS ?? 500,
    },
    tasks: {
      maxAttempts: env.MAX_RETRY_ATTEMPTS ?? 3,
      timeoutMs: env.TASK_TIMEOUT_MS ?? 300_000,
      ttlSeconds: env.TASK_TTL_SECONDS ?? 7 * 24 * 3600,
      progressIntervalMs: env.PROGRESS_UPDATE_INTERVAL_MS ?? 500,
      maxResultBytes: env.TASK_MAX_RESULT_BYTES ?? 1024 * 1024,
      maxUnfinishedPerTenant: env.MAX_UNFINISHED_TASKS_PER_TENANT ?? 100_000,
      logMaxLines: env.TASK_LOG_MAX_LINES ?? 1000,
      logMaxBytes: env.TASK_LOG_MAX_BYTES ?? 256 * 1024,
    },
    errorReporting: {
      dsn: env.SENTRY_DSN ?? null,
      environment: env.SENTRY_ENVIRONMENT ?? env.NODE_ENV ?? 'development',
      sendPayload: env.SENTRY_SEND_PAYLOAD ?? false,
    },
    maintenance: {
      reconcileIntervalMs: env.RECONCILE_INTERVAL_MS ?? 60_000,
      reconcileMinAgeMs: env.RECONCILE_MIN_AGE_MS ?? 120_000,
      retentionIntervalMs: env.RETENTION_INTERVAL_MS ?? 3_600_000,
      backgroundMigrationWatchMs: env.BACKGROUND_MIGRATION_WATCH_MS ?? 60_000,
    },
    scheduler: {
      enabled: env.SCHEDULER_ENABLED ?? null,
      intervalMs: env.SCHEDULER_INTERVAL_MS ?? 250,
      missedGraceMs: env.SCHEDULER_MISSED_GRACE_MS ?? 5000,
    },
    webhooks: {
      allowedCidrs,
      allowedPorts,
      allowHttp: env.WEBHOOK_ALLOW_HTTP ?? false,
      timeoutMs: env.WEBHOOK_TIMEOUT_MS ?? 15_000,
      disableAfterMs: env.WEBHOOK_DISABLE_AFTER_MS ?? 5 * 86_400_000,
      secretGraceMs: env.WEBHOOK_SECRET_GRACE_MS ?? 86_400_000,
      endpointConcurrency: env.WEBHOOK_ENDPOINT_CONCURRENCY ?? 5,
      activationDelayMs: env.WEBHOOK_ACTIVATION_DELAY_MS ?? 5000,
      pollIntervalMs: env.WEBHOOK_POLL_INTERVAL_MS ?? 250,
      maxPayloadBytes: env.WEBHOOK_MAX_PAYLOAD_BYTES ?? 64 * 1024,
      ...secretKeys,
    },
    storageDir: env.STORAGE_DIR ?? './data/storage',
    storage: {
      driver: (env.STORAGE_DRIVER as 'local' | 's3' | undefined) ?? 'local',
      dir: env.STORAGE_DIR ?? './data/storage',
      ...(env.STORAGE_DRIVER === 's3'
        ? {
            s3: {
              endpoint: env.S3_ENDPOINT,
              region: env.S3_REGION ?? 'us-east-1',
              bucket: env.S3_BUCKET!,
              accessKeyId: env.S3_ACCESS_KEY_ID,
              secretAccessKey: env.S3_SECRET_ACCESS_KEY,
              forcePathStyle: env.S3_FORCE_PATH_STYLE ?? !!env.S3_ENDPOINT,
            },
          }
        : {}),
    },
    maxUploadBytes: env.MAX_UPLOAD_BYTES ?? 1024 * 1024 * 1024,
    exports: {
      linkSecret: env.EXPORT_LINK_SECRET ?? randomBytes(32).toString('base64url'),
      linkSecretGenerated: !env.EXPORT_LINK_SECRET,
      linkTtlSeconds: env.EXPORT_LINK_TTL_SECONDS ?? 900,
      retentionSeconds: env.EXPORT_RETENTION_SECONDS ?? 7 * 24 * 3600,
    },
    startupTimeoutMs: env.STARTUP_TIMEOUT_MS ?? 60_000,
    idleCompactAfterMs: env.IDLE_COMPACT_AFTER_MS ?? 5_000,
    limits: {
      json: {
        maxDepth: env.JSON_MAX_DEPTH ?? 64,
        maxKeys: env.JSON_MAX_KEYS ?? 1000,
        maxArrayLength: env.JSON_MAX_ARRAY_LENGTH ?? 10_000,
        maxNodes: env.JSON_MAX_NODES ?? 100_000,
      },
      streamsPerKey: env.SSE_MAX_STREAMS_PER_KEY ?? 20,
      streamsPerProcess: env.SSE_MAX_STREAMS ?? 1000,
    },
    security: {
      adminKey: env.CONVEYOR_ADMIN_KEY,
      authCacheTtlMs: env.AUTH_CACHE_TTL_MS ?? 30_000,
      rateLimitPerMinute: env.RATE_LIMIT_PER_MINUTE ?? 6000,
      authFailuresPerMinute: env.AUTH_FAILURES_PER_MINUTE ?? 60,
      jsonBodyLimitBytes: env.JSON_BODY_LIMIT_BYTES ?? 10 * 1024 * 1024,
      corsOrigins: splitList(env.CORS_ORIGINS),
      redactPayloadFields: splitList(env.LOG_REDACT_PAYLOAD_FIELDS),
    },
    http: {
      headersTimeoutMs,
      requestTimeoutMs,
      keepAliveTimeoutMs: env.HTTP_KEEP_ALIVE_TIMEOUT_MS ?? 72_000,
      maxConnectionsPerAddress: env.HTTP_MAX_CONNECTIONS_PER_ADDRESS ?? 256,
      reusePort: env.HTTP_REUSE_PORT ?? false,
      trustProxy,
    },
  };
}
