import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { MySQL2Instrumentation } from '@opentelemetry/instrumentation-mysql2';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { NodeSDK } from '@opentelemetry/sdk-node';

/** `db.query.text` of a Redis span: `EVALSHA [9 arguments]`. */
export const redisStatement = (command: string, args: unknown[]): string => (args.length > 0 ? `${command} [${args.length} arguments]` : command);

/**
 * The OpenTelemetry Node SDK with the instrumentations Conveyor's work goes through: outgoing
 * HTTP calls (webhook deliveries), PostgreSQL, MySQL/MariaDB and Redis. Exporter, protocol,
 * endpoint, sampler and resource come from the standard `OTEL_*` variables. Database and Redis
 * calls are recorded only inside a traced piece of work: the worker's fetch loops and the
 * maintenance timers would otherwise fill the exporter with traces of one command each.
 *
 * What is left out, measured (docs/benchmarks.md, "Tracing overhead"):
 * - incoming requests: the API's server span comes from its own Fastify hooks
 *   (http-server-span.ts), at a fraction of the HTTP instrumentation's cost (which wraps every
 *   request's and response's event listeners to carry the context);
 * - OpenTelemetry metrics and logs: the SDK would export both over OTLP by default, and record
 *   a histogram point per request and per query for them; Conveyor's metrics are Prometheus'.
 *   `OTEL_METRICS_EXPORTER` / `OTEL_LOGS_EXPORTER`, when set, still turn them on.
 *
 * Loaded (by `require`) only when tracing is on: nothing here is imported otherwise.
 */
export function startTracingSdk(defaultServiceName: string, env: NodeJS.ProcessEnv = process.env): NodeSDK {
  const sdk = new NodeSDK({
    ...(env.OTEL_SERVICE_NAME ? {} : { serviceName: defaultServiceName }),
    ...(env.OTEL_METRICS_EXPORTER?.trim() ? {} : { metricReaders: [] }),
    ...(env.OTEL_LOGS_EXPORTER?.trim() ? {} : { logRecordProcessors: [] }),
    instrumentations: [
      new HttpInstrumentation({ disableIncomingRequestInstrumentation: true, requireParentforOutgoingSpans: true }),
      // No span per pool checkout: a query's own span says enough, and each span costs export.
      new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
      // The command and its argument count only: the default text of EVALSHA (every job add and
      // BullMQ move) would carry every argument, the tenant's payload among them, and building
      // it cost more than the span (it runs even for the commands of a shared add, whose spans
      // are suppressed).
      new IORedisInstrumentation({ requireParentSpan: true, dbStatementSerializer: redisStatement }),
      new MySQL2Instrumentation(),
    ],
  });
  sdk.start();
  return sdk;
}
