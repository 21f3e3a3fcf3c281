import { getMetadataStorage } from 'class-validator';
import type { ConfigProblem } from './app-config';
import { EnvironmentSchema } from './environment.schema';

/**
 * What `npm run validate-config` adds to a plain pass/fail: the offending values (secrets
 * masked) and a warning for variables that are probably misspelt keys of ours (QUEUE_PREFX).
 */

/** Keys read outside the schema: launchers, scripts, Compose and the image's entry point. */
const OPS_KEYS = [
  'ENV_FILE',
  'MODE',
  'NODE', // start-worker.sh's Node binary; npm sets it too
  'API_INSTANCES',
  'WORKER_INSTANCES',
  'API_MAX_MEMORY',
  'WORKER_MAX_MEMORY',
  'LOG_DIR',
  'WORKER_PID_FILE',
  'WORKER_LOG_DIR',
  'WORKER_STOP_TIMEOUT_S',
  'WORKER_START_TIMEOUT_S',
  'WORKER_MIN_UPTIME_S',
  'WORKER_RESTART_MAX_DELAY_S',
  'BACKUP_DIR',
  'BACKUP_KEEP',
  'DEV_DATA_DIR',
  'EMBEDDED_PG_PORT',
  'DEV_REDIS_PORT',
  'DEV_READY_TIMEOUT_MS',
  'LOG_PRETTY',
  'EXTERNAL_DATABASE_URL',
  'EXTERNAL_REDIS_URL',
  'DEPLOY_LOG_LINES',
  'API_PORT',
  'REDIS_MAXMEMORY',
  'SCALE_WORKERS',
  'SCALE_WORKER_QUEUES',
  'SCALE_WORKER_CONCURRENCY',
];

/**
 * OpenTelemetry's standard variables the SDK reads as they are (tracing; the ones with rules to
 * check are in the schema): headers and timeouts of the export, resource, propagators, batching.
 */
const OTEL_KEYS = [
  'OTEL_EXPORTER_OTLP_HEADERS',
  'OTEL_EXPORTER_OTLP_TRACES_HEADERS',
  'OTEL_EXPORTER_OTLP_TIMEOUT',
  'OTEL_EXPORTER_OTLP_TRACES_TIMEOUT',
  'OTEL_EXPORTER_OTLP_COMPRESSION',
  'OTEL_EXPORTER_OTLP_TRACES_COMPRESSION',
  'OTEL_EXPORTER_OTLP_CERTIFICATE',
  'OTEL_EXPORTER_OTLP_TRACES_CERTIFICATE',
  'OTEL_RESOURCE_ATTRIBUTES',
  'OTEL_NODE_RESOURCE_DETECTORS',
  'OTEL_PROPAGATORS',
  'OTEL_BSP_SCHEDULE_DELAY',
  'OTEL_BSP_EXPORT_TIMEOUT',
  'OTEL_BSP_MAX_QUEUE_SIZE',
  'OTEL_BSP_MAX_EXPORT_BATCH_SIZE',
  'OTEL_SPAN_ATTRIBUTE_COUNT_LIMIT',
  'OTEL_SPAN_ATTRIBUTE_VALUE_LENGTH_LIMIT',
  'OTEL_LOG_LEVEL',
];

/** Every environment key Conveyor knows: the schema's properties, the ops keys and OpenTelemetry's. */
export function knownEnvironmentKeys(): string[] {
  const schemaKeys = getMetadataStorage()
    .getTargetValidationMetadatas(EnvironmentSchema, '', true, false)
    .map((m) => m.propertyName);
  return [...new Set([...schemaKeys, ...OPS_KEYS, ...OTEL_KEYS])].sort();
}

const SECRET_KEY = /PASSWORD|SECRET|TOKEN|_KEY$|KEY_ID$/;

/** A value safe to print: secrets reduced to their length, URL passwords replaced. */
export function maskValue(key: string, value: string): string {
  if (SECRET_KEY.test(key)) return `<${value.length} characters, hidden>`;
  return value.replace(/(\/\/[^:/@]*:)[^@/]*@/g, '$1***@');
}

/** The problems, one line each with the value that caused it (when the environment has one). */
export function describeProblems(problems: ConfigProblem[], env: NodeJS.ProcessEnv): string {
  const lines = problems.map((p) => {
    const value = env[p.key];
    const shown = value === undefined || value.trim() === '' ? '(not set)' : JSON.stringify(maskValue(p.key, value));
    return `  - ${p.key}=${shown}: ${p.problems.join('; ')}`;
  });
  return `Invalid configuration:\n${lines.join('\n')}`;
}

/** Optimal string alignment distance: edits, counting a swap of neighbours as one. */
function editDistance(a: string, b: string): number {
  const d = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) d[i][j] = Math.min(d[i][j], d[i - 2][j - 2] + 1);
    }
  }
  return d[a.length][b.length];
}

/**
 * Unknown variables within a typo of a known key: one edit for short keys (so PWD or TERM never
 * match PORT), two for longer ones. Returns [variable, the key it probably means].
 */
export function suspiciousKeys(env: NodeJS.ProcessEnv, known: string[] = knownEnvironmentKeys()): Array<[string, string]> {
  const knownSet = new Set(known);
  const found: Array<[string, string]> = [];
  for (const name of Object.keys(env).sort()) {
    if (knownSet.has(name) || !/^[A-Z][A-Z0-9_]*$/.test(name)) continue;
    let best: [string, number] | undefined;
    for (const key of known) {
      const limit = key.length <= 6 ? 1 : 2;
      if (Math.abs(key.length - name.length) > limit) continue;
      const distance = editDistance(name, key);
      if (distance <= limit && (!best || distance < best[1])) best = [key, distance];
    }
    if (best) found.push([name, best[0]]);
  }
  return found;
}
