import { Module, type OnApplicationShutdown } from '@nestjs/common';
import { LoggerModule } from 'nestjs-pino';
import pino from 'pino';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { CENSOR } from './log-redaction';
import { serializeRequest, serializeResponse } from './request-logging';
import { stopTracing, traceLogFields, tracingOn } from './tracing';

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
        // No middleware: the API logs requests from Fastify hooks (installRequestLogging), which
        // is cheaper than Nest's Express-style middleware bridge and sees every request.
        forRoutes: [],
        pinoHttp: [
          {
            level: config.logLevel,
            base: { service: process.env.CONVEYOR_SERVICE ?? 'conveyor' },
            // Our serializers take what installRequestLogging logs (the Fastify request, the raw
            // response) as they are, without pino-http's standard ones in front.
            wrapSerializers: false,
            // With tracing on, every line names the trace of the work it belongs to.
            ...(tracingOn ? { mixin: traceLogFields } : {}),
            serializers: { req: serializeRequest, res: serializeResponse, err: pino.stdSerializers.err },
            // LOG_REDACT_PAYLOAD_FIELDS: secrets inside task payloads, wherever a payload is logged.
            ...(config.security.redactPayloadFields.length > 0
              ? { redact: { paths: config.security.redactPayloadFields.flatMap((field) => [`payload.${field}`, `*.payload.${field}`]), censor: CENSOR } }
              : {}),
          },
          stdout,
        ],
      }),
    }),
  ],
})
export class ObservabilityLoggerModule implements OnApplicationShutdown {
  /** A signal re-raised after the shutdown ends the process without the exit handlers: flush now. */
  async onApplicationShutdown(): Promise<void> {
    await stopTracing();
    try {
      buffered.flushSync();
    } catch {
      // Not writable any more (a closed pipe): nothing left to save.
    }
  }
}
