import { HttpInstrumentation } from '@opentelemetry/instrumentation-http';
import { IORedisInstrumentation } from '@opentelemetry/instrumentation-ioredis';
import { MySQL2Instrumentation } from '@opentelemetry/instrumentation-mysql2';
import { PgInstrumentation } from '@opentelemetry/instrumentation-pg';
import { NodeSDK } from '@opentelemetry/sdk-node';

/** Probes and scrapes: frequent, uninteresting, and they would bury the traces worth reading. */
const UNTRACED_PATHS = /^\/(health|metrics)(\/|\?|$)/;

/**
 * The OpenTelemetry Node SDK with the instrumentations Conveyor's work goes through: HTTP (the
 * API's requests, incoming `traceparent` honoured, and outgoing calls such as webhook
 * deliveries), PostgreSQL, MySQL/MariaDB and Redis. Exporter, protocol, endpoint, sampler and
 * resource come from the standard `OTEL_*` variables. Database and Redis calls are recorded only
 * inside a traced piece of work: the worker's fetch loops and the maintenance timers would
 * otherwise fill the exporter with traces of one command each.
 *
 * Loaded (by `require`) only when tracing is on: nothing here is imported otherwise.
 */
export function startTracingSdk(defaultServiceName: string): NodeSDK {
  const sdk = new NodeSDK({
    ...(process.env.OTEL_SERVICE_NAME ? {} : { serviceName: defaultServiceName }),
    instrumentations: [
      new HttpInstrumentation({ ignoreIncomingRequestHook: (request) => UNTRACED_PATHS.test(request.url ?? '') }),
      // No span per pool checkout: a query's own span says enough, and each span costs export.
      new PgInstrumentation({ requireParentSpan: true, ignoreConnectSpans: true }),
      new IORedisInstrumentation({ requireParentSpan: true }),
      new MySQL2Instrumentation(),
    ],
  });
  sdk.start();
  return sdk;
}
