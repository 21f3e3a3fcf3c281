import { Transform } from 'class-transformer';
import { IsBoolean, IsIn, IsInt, IsOptional, IsString, Matches, Max, Min, MinLength } from 'class-validator';

const toInt = ({ value }: { value: string | undefined }) => (value === undefined || value === '' ? undefined : /^-?\d+$/.test(value) ? Number(value) : value);
const toBool = ({ value }: { value: string | undefined }) => {
  if (value === undefined || value === '') return undefined;
  const text = value.toLowerCase();
  if (['true', '1', 'yes', 'on'].includes(text)) return true;
  if (['false', '0', 'no', 'off'].includes(text)) return false;
  return value;
};

/**
 * Every environment key Conveyor reads, with its rules. Both apps and `npm run validate-config`
 * validate against this one class; `.env.example` documents the same keys.
 */
export class EnvironmentSchema {
  @IsOptional()
  @IsIn(['development', 'production', 'test'])
  NODE_ENV?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  PORT?: number;

  @IsOptional()
  @IsIn(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent'])
  LOG_LEVEL?: string;

  /** A `tenant` label on the task counters (one series per tenant: only with few tenants). */
  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  METRICS_TENANT_LABEL?: boolean;

  /** How long an app waits at start for the database and Redis before giving up. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  STARTUP_TIMEOUT_MS?: number;

  /** A process whose event loop stayed idle this long compacts its heap once (0: never). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  IDLE_COMPACT_AFTER_MS?: number;

  // --- security -------------------------------------------------------------------------
  /** Bootstrap admin key (tenant "default", every scope) for first start and automation. */
  @IsOptional()
  @IsString()
  @MinLength(16, { message: 'CONVEYOR_ADMIN_KEY must be at least 16 characters' })
  CONVEYOR_ADMIN_KEY?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  AUTH_CACHE_TTL_MS?: number;

  /** Requests per minute per API key (or per client address without a key); 0 turns it off. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  RATE_LIMIT_PER_MINUTE?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(100 * 1024 * 1024)
  JSON_BODY_LIMIT_BYTES?: number;

  // --- request limits (checked on every route before anything copies the input) --------
  /** Deepest nesting of a JSON body, query or JSON form field. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(8)
  @Max(256)
  JSON_MAX_DEPTH?: number;

  /** Most keys in one JSON object. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(16)
  @Max(1_000_000)
  JSON_MAX_KEYS?: number;

  /** Most items in one JSON array; at least 1000, the size of a full task batch. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(10_000_000)
  JSON_MAX_ARRAY_LENGTH?: number;

  /** Most values in one JSON input, all levels together. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(100_000_000)
  JSON_MAX_NODES?: number;

  /** Open task event streams (SSE) per API key, and per API process. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100_000)
  SSE_MAX_STREAMS_PER_KEY?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1_000_000)
  SSE_MAX_STREAMS?: number;

  /** Comma-separated allowed origins; CORS is off when unset. */
  @IsOptional()
  @IsString()
  CORS_ORIGINS?: string;

  /** Failed authentications per minute per client address before 429; 0 turns it off. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  AUTH_FAILURES_PER_MINUTE?: number;

  /**
   * Proxies whose X-Forwarded-For is believed: a comma list of addresses, CIDRs and the names
   * loopback / linklocal / uniquelocal. Unset: none (the connection's peer is the client).
   */
  @IsOptional()
  @IsString()
  TRUST_PROXY?: string;

  // --- HTTP server ------------------------------------------------------------------------
  /** A request's headers must have arrived within this (slow-header clients are cut with 408). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  HTTP_HEADERS_TIMEOUT_MS?: number;

  /** A whole request, body included, must have arrived within this (408 otherwise). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(86_400_000)
  HTTP_REQUEST_TIMEOUT_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  HTTP_KEEP_ALIVE_TIMEOUT_MS?: number;

  /** Open connections one client address may hold (trusted proxies are exempt); 0 turns it off. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  HTTP_MAX_CONNECTIONS_PER_ADDRESS?: number;

  /**
   * Listen with SO_REUSEPORT (Linux): several API processes share PORT and the kernel spreads
   * connections over them, so one can restart while the others serve (pm2's fork instances).
   */
  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  HTTP_REUSE_PORT?: boolean;

  /** Payload fields (comma list, dot paths allowed) censored in logs. */
  @IsOptional()
  @IsString()
  LOG_REDACT_PAYLOAD_FIELDS?: string;

  // --- error reporting -------------------------------------------------------------------
  /** Sentry DSN; unset = no error reporting, and nothing of the SDK is loaded. */
  @IsOptional()
  @Matches(/^https?:\/\/[^/@\s]+@[^/\s]+\/\S*\d+$/, { message: 'SENTRY_DSN must be a DSN such as https://<public key>@<host>/<project id>' })
  SENTRY_DSN?: string;

  /** The `environment` of reported events (default: NODE_ENV). */
  @IsOptional()
  @IsString()
  @MinLength(1)
  SENTRY_ENVIRONMENT?: string;

  /** Attach the task payload (redacted by LOG_REDACT_PAYLOAD_FIELDS) to reported task failures. */
  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  SENTRY_SEND_PAYLOAD?: boolean;

  // --- database -------------------------------------------------------------------------
  @IsOptional()
  @Matches(/^(postgres|postgresql|mysql|mariadb):\/\/.+/, {
    message: 'DATABASE_URL must be a postgres://, mysql:// or mariadb:// URL',
  })
  DATABASE_URL?: string;

  @IsOptional()
  @IsIn(['postgres', 'mysql', 'mariadb'])
  DB_TYPE?: string;

  @IsOptional()
  @IsString()
  DB_HOST?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(65535)
  DB_PORT?: number;

  @IsOptional()
  @IsString()
  DB_USERNAME?: string;

  @IsOptional()
  @IsString()
  DB_PASSWORD?: string;

  @IsOptional()
  @IsString()
  DB_DATABASE?: string;

  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  DB_SSL?: boolean;

  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  DB_MIGRATIONS_RUN?: boolean;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(200)
  DB_POOL_SIZE?: number;

  /** Longest wait for a pooled connection (or a new one) before a request gets 503. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(60_000)
  DB_CONNECT_TIMEOUT_MS?: number;

  /** Longest one statement may run (server-side) or go unanswered (client-side). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600_000)
  DB_STATEMENT_TIMEOUT_MS?: number;

  // --- redis / queues -------------------------------------------------------------------
  @IsOptional()
  @Matches(/^rediss?:\/\/.+/, { message: 'REDIS_URL must be a redis:// or rediss:// URL' })
  REDIS_URL?: string;

  @IsOptional()
  @IsString()
  REDIS_HOST?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(65535)
  REDIS_PORT?: number;

  @IsOptional()
  @IsString()
  REDIS_PASSWORD?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(15)
  REDIS_DB?: number;

  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  REDIS_TLS?: boolean;

  /** Redis Sentinel: `host:port,host:port` of the sentinels (instead of REDIS_URL's server). */
  @IsOptional()
  @IsString()
  REDIS_SENTINELS?: string;

  /** The master name the sentinels monitor. */
  @IsOptional()
  @Matches(/^[A-Za-z0-9_.-]{1,64}$/, { message: 'REDIS_SENTINEL_NAME must be 1-64 characters of letters, digits, "_", "." or "-"' })
  REDIS_SENTINEL_NAME?: string;

  /** Password of the sentinels themselves (REDIS_PASSWORD is the master's). */
  @IsOptional()
  @IsString()
  REDIS_SENTINEL_PASSWORD?: string;

  /** Redis Cluster: `host:port,host:port` of some of its nodes (instead of REDIS_URL's server). */
  @IsOptional()
  @IsString()
  REDIS_CLUSTER_NODES?: string;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_.-]{1,64}$/, {
    message: 'QUEUE_PREFIX must be 1-64 characters of letters, digits, "_", "." or "-"',
  })
  QUEUE_PREFIX?: string;

  @IsOptional()
  @Matches(/^[a-z0-9][a-z0-9._-]{0,63}$/, {
    message: 'QUEUE_NAME must be a lowercase queue name',
  })
  QUEUE_NAME?: string;

  // --- worker ---------------------------------------------------------------------------
  @IsOptional()
  @Matches(/^\s*(\*|[a-z0-9][a-z0-9._-]*(\s*,\s*[a-z0-9][a-z0-9._-]*)*)?\s*$/, {
    message: 'WORKER_QUEUES must be "*" or a comma-separated list of queue names',
  })
  WORKER_QUEUES?: string;

  @IsOptional()
  // Each value is a number `n` or an autoscaled range `min..max` (README "Operating queues").
  @Matches(/^\s*(\d+(\.\.\d+)?|([a-z0-9*][a-z0-9._-]*=\d+(\.\.\d+)?)(\s*,\s*[a-z0-9*][a-z0-9._-]*=\d+(\.\.\d+)?)*)\s*$/, {
    message: 'WORKER_CONCURRENCY must be n or min..max, or "queue=n,queue=min..max" (use "*=" for the default)',
  })
  WORKER_CONCURRENCY?: string;

  /** How often the autoscaler looks at each autoscaled queue (WORKER_CONCURRENCY ranges). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(600_000)
  WORKER_AUTOSCALE_INTERVAL_MS?: number;

  /** Slots added or removed per look. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1000)
  WORKER_AUTOSCALE_STEP?: number;

  /** How long a queue must be idle (nothing waiting, slots unused) before its concurrency is lowered. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  WORKER_AUTOSCALE_IDLE_MS?: number;

  /** p99 event-loop delay over one look above which concurrency is lowered, never raised. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(60_000)
  WORKER_AUTOSCALE_MAX_EVENT_LOOP_DELAY_MS?: number;

  /** Process CPU (percent of one core, threads included) above which concurrency is lowered, never raised. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(10_000)
  WORKER_AUTOSCALE_MAX_CPU?: number;

  /** Recycling: after this many tasks the worker finishes its running ones and exits 75 (0: never). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  WORKER_MAX_TASKS?: number;

  /** Recycling: above this resident memory (MB) the worker finishes its running tasks and exits 75 (0: never). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  WORKER_MAX_RSS?: number;

  @IsOptional()
  @Matches(/^[A-Za-z0-9_.:-]{1,128}$/, { message: 'WORKER_ID must be 1-128 safe characters' })
  WORKER_ID?: string;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(65535)
  WORKER_HEALTH_PORT?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(3_600_000)
  SHUTDOWN_GRACE_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(3_600_000)
  WORKER_LOCK_DURATION_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(3_600_000)
  WORKER_STALLED_INTERVAL_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(50)
  @Max(3_600_000)
  WORKER_EVENT_LOOP_BLOCK_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(100_000)
  WORKER_WRITE_BEHIND_MAX?: number;

  // --- fairness between tenants (README "Fairness") --------------------------------------
  /** Fair ordering between tenants and per-tenant concurrency caps (on by default). */
  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  FAIRNESS?: boolean;

  /** Running tasks per tenant and queue across all workers, unless set per tenant at runtime; 0: no cap. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(100_000)
  TENANT_CONCURRENCY_DEFAULT?: number;

  /** Whether a tenant over its cap may use slots nobody else's waiting task needs (work-conserving). */
  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  TENANT_CONCURRENCY_BORROW?: boolean;

  /** How long a task over its tenant's cap goes back to the delayed set before it is tried again. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(60_000)
  FAIRNESS_DEFER_MS?: number;

  // --- maintenance (worker side) ----------------------------------------------------------
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  RECONCILE_INTERVAL_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(10_000)
  @Max(604_800_000)
  RECONCILE_MIN_AGE_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(604_800_000)
  RETENTION_INTERVAL_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(86_400_000)
  BACKGROUND_MIGRATION_WATCH_MS?: number;

  // --- schedules ------------------------------------------------------------------------
  /** Whether this process runs the schedule runner; unset: on in the worker, off in the API. */
  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  SCHEDULER_ENABLED?: boolean;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(50)
  @Max(60_000)
  SCHEDULER_INTERVAL_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(86_400_000)
  SCHEDULER_MISSED_GRACE_MS?: number;

  // --- webhooks ---------------------------------------------------------------------------
  /** Comma-separated CIDRs deliveries may reach although the deny list covers them (private receivers on purpose). */
  @IsOptional()
  @IsString()
  WEBHOOK_ALLOWED_CIDRS?: string;

  /** Ports an endpoint URL may use: a list of ports and ranges ("443,8000-8999"), or "*". */
  @IsOptional()
  @Matches(/^(\*|\d{1,5}(-\d{1,5})?(,\s*\d{1,5}(-\d{1,5})?)*)$/, { message: 'WEBHOOK_ALLOWED_PORTS must be "*" or ports and ranges like "443,8000-8999"' })
  WEBHOOK_ALLOWED_PORTS?: string;

  /** Allow http:// endpoint URLs (default: https only). */
  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  WEBHOOK_ALLOW_HTTP?: boolean;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(120_000)
  WEBHOOK_TIMEOUT_MS?: number;

  /** An endpoint failing every delivery for this long is disabled. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1000)
  @Max(90 * 86_400_000)
  WEBHOOK_DISABLE_AFTER_MS?: number;

  /** How long the previous secret keeps signing after a rotation. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(30 * 86_400_000)
  WEBHOOK_SECRET_GRACE_MS?: number;

  /** Deliveries in flight at once per endpoint, across all workers. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(1000)
  WEBHOOK_ENDPOINT_CONCURRENCY?: number;

  /** A new or changed subscription applies to transitions from this long after the change on (the workers' cache bound). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(500)
  @Max(600_000)
  WEBHOOK_ACTIVATION_DELAY_MS?: number;

  /** How often a worker looks for deliveries due. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(20)
  @Max(60_000)
  WEBHOOK_POLL_INTERVAL_MS?: number;

  /**
   * Key that encrypts endpoint signing secrets at rest (AES-256-GCM): 32 random bytes in base64.
   * Checked in loadAppConfig (length and encoding).
   */
  @IsOptional()
  @IsString()
  WEBHOOK_SECRET_KEY?: string;

  /** Former WEBHOOK_SECRET_KEYs, comma-separated: they decrypt secrets still sealed under them, never encrypt. */
  @IsOptional()
  @IsString()
  WEBHOOK_SECRET_KEYS_OLD?: string;

  /** Largest event body; a bigger task view is sent without payload and result (by reference). */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(1024 * 1024)
  WEBHOOK_MAX_PAYLOAD_BYTES?: number;

  // --- task defaults --------------------------------------------------------------------
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  @Max(100)
  MAX_RETRY_ATTEMPTS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(100)
  @Max(86_400_000)
  TASK_TIMEOUT_MS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(60)
  TASK_TTL_SECONDS?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(50)
  @Max(60_000)
  PROGRESS_UPDATE_INTERVAL_MS?: number;

  // Results live in a SQL JSON column and in Redis; large outputs belong in files.
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1024)
  @Max(64 * 1024 * 1024)
  TASK_MAX_RESULT_BYTES?: number;

  // One tenant's backlog must not fill Redis for everyone: beyond it, 429 TENANT_QUEUE_FULL.
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(100_000_000)
  MAX_UNFINISHED_TASKS_PER_TENANT?: number;

  // Task logs (`ctx.log`): kept per attempt up to these; the lines beyond still reach the worker's output.
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(1_000_000)
  TASK_LOG_MAX_LINES?: number;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(0)
  @Max(64 * 1024 * 1024)
  TASK_LOG_MAX_BYTES?: number;

  @IsOptional()
  @IsString()
  @MinLength(1)
  STORAGE_DIR?: string;

  @IsOptional()
  @IsIn(['local', 's3'])
  STORAGE_DRIVER?: string;

  @IsOptional()
  @Matches(/^https?:\/\/.+/, { message: 'S3_ENDPOINT must be an http(s) URL' })
  S3_ENDPOINT?: string;

  @IsOptional()
  @IsString()
  S3_REGION?: string;

  @IsOptional()
  @Matches(/^[a-z0-9][a-z0-9.-]{1,62}$/, { message: 'S3_BUCKET must be a valid bucket name' })
  S3_BUCKET?: string;

  @IsOptional()
  @IsString()
  S3_ACCESS_KEY_ID?: string;

  @IsOptional()
  @IsString()
  S3_SECRET_ACCESS_KEY?: string;

  @IsOptional()
  @Transform(toBool)
  @IsBoolean()
  S3_FORCE_PATH_STYLE?: boolean;

  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(1)
  MAX_UPLOAD_BYTES?: number;

  // --- exports --------------------------------------------------------------------------
  /** HMAC key of export download links; every API process of a deployment must share it. */
  @IsOptional()
  @IsString()
  @MinLength(32, { message: 'EXPORT_LINK_SECRET must be at least 32 characters' })
  EXPORT_LINK_SECRET?: string;

  /** How long a download link stays valid. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(10)
  @Max(7 * 24 * 3600)
  EXPORT_LINK_TTL_SECONDS?: number;

  /** How long an export's file is kept after it was written. */
  @IsOptional()
  @Transform(toInt)
  @IsInt()
  @Min(60)
  EXPORT_RETENTION_SECONDS?: number;

  // --- tracing (OpenTelemetry's standard variables, read by its SDK; checked here so a typo fails at start)
  /** `true` turns tracing off whatever else is set. */
  @IsOptional()
  @Matches(/^(true|false)$/i, { message: 'OTEL_SDK_DISABLED must be true or false' })
  OTEL_SDK_DISABLED?: string;

  /** Where spans go: `otlp` (or `console`, `zipkin`; `none` for nowhere). Set, tracing is on. */
  @IsOptional()
  @Matches(/^\s*(otlp|console|zipkin|none)\s*(,\s*(otlp|console|zipkin|none)\s*)*$/, {
    message: 'OTEL_TRACES_EXPORTER must list otlp, console, zipkin or none (comma-separated)',
  })
  OTEL_TRACES_EXPORTER?: string;

  /** The collector's base URL (spans go to `<url>/v1/traces`); set, tracing is on. */
  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, { message: 'OTEL_EXPORTER_OTLP_ENDPOINT must be an http(s) URL' })
  OTEL_EXPORTER_OTLP_ENDPOINT?: string;

  /** The full URL for spans alone, in place of the base URL's. */
  @IsOptional()
  @Matches(/^https?:\/\/\S+$/, { message: 'OTEL_EXPORTER_OTLP_TRACES_ENDPOINT must be an http(s) URL' })
  OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?: string;

  @IsOptional()
  @IsIn(['grpc', 'http/protobuf', 'http/json'])
  OTEL_EXPORTER_OTLP_PROTOCOL?: string;

  @IsOptional()
  @IsIn(['grpc', 'http/protobuf', 'http/json'])
  OTEL_EXPORTER_OTLP_TRACES_PROTOCOL?: string;

  /** The service name spans carry (default conveyor-api / conveyor-worker). */
  @IsOptional()
  @IsString()
  OTEL_SERVICE_NAME?: string;

  @IsOptional()
  @IsIn(['always_on', 'always_off', 'traceidratio', 'parentbased_always_on', 'parentbased_always_off', 'parentbased_traceidratio'])
  OTEL_TRACES_SAMPLER?: string;

  /** The ratio of the `traceidratio` samplers, 0 to 1. */
  @IsOptional()
  @Matches(/^(0(\.\d+)?|1(\.0+)?)$/, { message: 'OTEL_TRACES_SAMPLER_ARG must be a number from 0 to 1' })
  OTEL_TRACES_SAMPLER_ARG?: string;
}
