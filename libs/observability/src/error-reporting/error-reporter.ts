import { Global, Inject, Injectable, Logger, Module, type OnApplicationShutdown } from '@nestjs/common';
import { trace } from '@opentelemetry/api';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { CENSOR } from '../log-redaction';

type SentrySdk = typeof import('@sentry/node');

/** A task's final failure as reported (never its payload unless SENTRY_SEND_PAYLOAD allows it). */
export interface TaskFailureReport {
  taskId: string;
  type: string;
  queue: string;
  attempt: number;
  tenantId: string;
  /** The ledger's error code (HANDLER_ERROR, TIMEOUT, …). */
  code: string;
  payload?: unknown;
}

/** Longest the shutdown waits for reports still being sent. */
const SHUTDOWN_FLUSH_MS = 2000;

/**
 * Test hook, like the tasks lib's failpoints: CONVEYOR_FAILPOINTS=uncaught-after-error-reporting
 * throws an error nothing catches a moment after the reporter started, to prove in a real
 * process that such an error is reported before the process ends. Never set it in production.
 */
const UNCAUGHT_FAILPOINT = 'uncaught-after-error-reporting';

/** A copy of the payload with the LOG_REDACT_PAYLOAD_FIELDS paths censored. */
export function redactedPayload(payload: unknown, paths: readonly string[]): unknown {
  if (paths.length === 0 || !payload || typeof payload !== 'object') return payload;
  const copy = structuredClone(payload) as Record<string, unknown>;
  for (const path of paths) {
    const keys = path.split('.');
    let node: unknown = copy;
    for (const key of keys.slice(0, -1)) node = node && typeof node === 'object' ? (node as Record<string, unknown>)[key] : undefined;
    const last = keys[keys.length - 1];
    if (node && typeof node === 'object' && last in node) (node as Record<string, unknown>)[last] = CENSOR;
  }
  return copy;
}

/**
 * The one owner of error reporting (Sentry, through the official Node SDK). Without SENTRY_DSN
 * it does nothing and the SDK is never loaded (`require` happens only here, only with a DSN).
 * With it: errors nothing caught (uncaught exceptions, unhandled rejections: the process still
 * ends, as Node would, once the report is sent), the API's 5xx answers (ApiExceptionFilter
 * calls `captureError`) and every final task failure (the task runner calls `taskFailed`),
 * tagged with task id, type, attempt, tenant and the active trace id when tracing is on. The
 * SDK runs without its default integrations: no tracing, no module hooks, only error capture.
 */
@Injectable()
export class ErrorReporter implements OnApplicationShutdown {
  private readonly logger = new Logger(ErrorReporter.name);
  private readonly sentry: SentrySdk | null;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {
    const { dsn, environment } = config.errorReporting;
    this.sentry = dsn ? ErrorReporter.start(dsn, environment) : null;
    if (!this.sentry) return;
    this.logger.log({ environment }, 'error reporting on');
    if ((process.env.CONVEYOR_FAILPOINTS ?? '').split(',').includes(UNCAUGHT_FAILPOINT)) {
      setTimeout(() => {
        throw new Error(`failpoint ${UNCAUGHT_FAILPOINT}: an error nothing catches`);
      }, 500);
    }
  }

  private static start(dsn: string, environment: string): SentrySdk {
    // Loaded here only: a deployment without a DSN never has the SDK in memory.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const sentry = require('@sentry/node') as SentrySdk;
    sentry.initWithoutDefaultIntegrations({
      dsn,
      environment,
      release: process.env.npm_package_version,
      serverName: process.env.CONVEYOR_SERVICE,
      integrations: [
        // Node's own behaviour is kept: the process ends after an uncaught error is reported.
        sentry.onUncaughtExceptionIntegration({ exitEvenIfOtherHandlersAreRegistered: true }),
        sentry.onUnhandledRejectionIntegration({ mode: 'strict' }),
        sentry.linkedErrorsIntegration(),
        sentry.nodeContextIntegration(),
        sentry.dedupeIntegration(),
      ],
    });
    return sentry;
  }

  get enabled(): boolean {
    return this.sentry !== null;
  }

  /** An error the app did not expect (e.g. a 5xx answer), with searchable tags. */
  captureError(error: unknown, tags: Record<string, string> = {}): void {
    if (!this.sentry) return;
    this.sentry.captureException(error, { tags: { ...tags, ...traceTag() } });
  }

  /** A task that failed for good (no attempt left, or a permanent error). */
  taskFailed(error: unknown, report: TaskFailureReport): void {
    if (!this.sentry) return;
    const { payload, ...task } = report;
    const context: Record<string, unknown> = { ...task };
    if (this.config.errorReporting.sendPayload && payload !== undefined) {
      context.payload = redactedPayload(payload, this.config.security.redactPayloadFields);
    }
    this.sentry.captureException(error, {
      tags: {
        'task.id': task.taskId,
        'task.type': task.type,
        'task.queue': task.queue,
        'task.attempt': String(task.attempt),
        'task.code': task.code,
        tenant: task.tenantId,
        ...traceTag(),
      },
      contexts: { task: context },
      fingerprint: ['task-failed', task.type, task.code],
    });
  }

  async onApplicationShutdown(): Promise<void> {
    await this.sentry?.close(SHUTDOWN_FLUSH_MS);
  }
}

/** The active span's trace id (a no-op API, so nothing, when tracing is off). */
function traceTag(): Record<string, string> {
  const context = trace.getActiveSpan()?.spanContext();
  return context && trace.isSpanContextValid(context) ? { trace_id: context.traceId } : {};
}

/** Provides the ErrorReporter to the whole app (both apps, through the tasks core module). */
@Global()
@Module({ providers: [ErrorReporter], exports: [ErrorReporter] })
export class ErrorReportingModule {}
