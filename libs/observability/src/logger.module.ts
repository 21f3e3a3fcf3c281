import type { IncomingMessage } from 'node:http';
import { Module, RequestMethod, type OnApplicationShutdown } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { censorHeaders, CENSOR, SECRET_REQUEST_HEADERS, SECRET_RESPONSE_HEADERS } from './log-redaction';
import { requestIdOf } from './request-id';

const QUIET_PATHS = /^\/(health\/(live|ready)|metrics)(\?|$)/;

/** Log bytes gathered before a write, and the longest a line waits for company. */
const LOG_BUFFER_BYTES = 4096;
const LOG_FLUSH_MS = 100;

/**
 * Standard output, buffered: lines go out in writes of about 4 KB, and at least every 100 ms.
 * A busy worker logs a line per task, and one write per line (even an asynchronous one) was
 * the largest single cost of its event loop (16 % at concurrency 50). Flushed on exit and at
 * shutdown; a `kill -9` loses at most the last 100 ms of lines.
 */
const buffered = pino.destination({ dest: 1, sync: false, minLength: LOG_BUFFER_BYTES });
setInterval(() => {
  try {
    buffered.flush();
  } catch {
    // Not open yet, or closed: the next tick (or the exit flush) writes it.
  }
}, LOG_FLUSH_MS).unref();
/**
 * Where the lines go: the buffer on fd 1, unless a supervisor took over `process.stdout` (pm2's
 * cluster mode sends what the app writes there to its log files; fd 1 goes nowhere then).
 */
const stdoutTakenOver = process.stdout.write !== (Object.getPrototypeOf(process.stdout) as NodeJS.WriteStream).write;
const stdout = stdoutTakenOver ? process.stdout : buffered;

/**
 * Structured JSON logs for both apps. In the API every line carries the request id (taken
 * from `x-request-id` when the caller sends a sane one); in the worker the task runner binds
 * task id, type and attempt. Secrets in headers never reach the log.
 */
@Module({
  imports: [
    LoggerModule.forRootAsync({
      inject: [APP_CONFIG],
      useFactory: (config: AppConfig) => ({
        // The library's default route pattern does not reach Fastify routes in Nest 12; an
        // explicit catch-all does (checked by the e2e request-id log test).
        forRoutes: [{ path: '{*splat}', method: RequestMethod.ALL }],
        pinoHttp: [
          {
            level: config.logLevel,
            base: { service: process.env.CONVEYOR_SERVICE ?? 'conveyor' },
            serializers: {
              // pino-http hands these the standard serialized req/res (fresh objects; their
              // `headers` may be the live request's, hence the copy in censorHeaders).
              req: (req: { headers?: Record<string, unknown> }) => Object.assign(req, { headers: censorHeaders(req.headers, SECRET_REQUEST_HEADERS) }),
              res: (res: { headers?: Record<string, unknown> }) => Object.assign(res, { headers: censorHeaders(res.headers, SECRET_RESPONSE_HEADERS) }),
            },
            // LOG_REDACT_PAYLOAD_FIELDS: secrets inside task payloads, wherever a payload is logged.
            ...(config.security.redactPayloadFields.length > 0
              ? { redact: { paths: config.security.redactPayloadFields.flatMap((field) => [`payload.${field}`, `*.payload.${field}`]), censor: CENSOR } }
              : {}),
            genReqId: requestIdOf,
            autoLogging: { ignore: (request: IncomingMessage) => QUIET_PATHS.test(request.url ?? '') },
            customLogLevel: (_req: IncomingMessage, res: { statusCode: number }, err?: Error) =>
              err || res.statusCode >= 500 ? 'error' : res.statusCode >= 400 ? 'warn' : 'info',
          },
          stdout,
        ],
      }),
    }),
  ],
})
export class ObservabilityLoggerModule implements OnApplicationShutdown {
  /** A signal re-raised after the shutdown ends the process without the exit handlers: flush now. */
  onApplicationShutdown(): void {
    try {
      buffered.flushSync();
    } catch {
      // Not writable any more (a closed pipe): nothing left to save.
    }
  }
}
