import { AsyncLocalStorage } from 'node:async_hooks';
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyRequest } from 'fastify';
import { isStandardSecurityHeader } from '@conveyor/http';
import { Logger, PARAMS_PROVIDER_TOKEN, PinoLogger, type Params } from 'nestjs-pino';
import type pino from 'pino';
import { censorHeaders, SECRET_REQUEST_HEADERS, SECRET_RESPONSE_HEADERS } from './log-redaction';

/** Probes and scrapes come every few seconds and say nothing: no line of their own. */
const QUIET_PATHS = /^\/(health\/(live|ready)|metrics)(\?|$)/;

type Level = 'info' | 'warn' | 'error';

/** The level of a request's line: 5xx error, 4xx warn, the rest info. */
export function requestLogLevel(statusCode: number): Level {
  return statusCode >= 500 ? 'error' : statusCode >= 400 ? 'warn' : 'info';
}

/** `req` of a log line: the request as it came, its secret headers censored. */
export function serializeRequest(request: FastifyRequest | IncomingMessage) {
  const fastifyRequest = 'raw' in request ? request : undefined;
  const raw = fastifyRequest?.raw ?? (request as IncomingMessage & { id?: unknown });
  const socket = raw.socket;
  return {
    id: fastifyRequest?.id ?? (raw as { id?: unknown }).id,
    method: raw.method,
    url: raw.url,
    query: fastifyRequest?.query,
    headers: censorHeaders(raw.headers as Record<string, unknown>, SECRET_REQUEST_HEADERS),
    remoteAddress: socket?.remoteAddress,
    remotePort: socket?.remotePort,
  };
}

/**
 * `res` of a log line: the status sent (null if none was) and the headers, cookies censored,
 * without the security headers every response carries unchanged.
 */
export function serializeResponse(response: ServerResponse) {
  const headers: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(response.getHeaders())) if (!isStandardSecurityHeader(name, value)) headers[name] = value;
  return {
    statusCode: response.headersSent ? response.statusCode : null,
    headers: censorHeaders(headers, SECRET_RESPONSE_HEADERS),
  };
}

/**
 * One request's logging: the logger every line logged while serving it goes through (built
 * on first use, carrying `req`), and its closing line.
 */
class RequestLog {
  private child?: pino.Logger;
  private readonly started = Date.now();

  constructor(
    private readonly root: pino.Logger,
    private readonly request: FastifyRequest,
  ) {}

  get logger(): pino.Logger {
    return (this.child ??= this.root.child({ req: this.request }));
  }

  /** The response was sent, or the connection closed before it was. */
  readonly closed = (response: ServerResponse): void => {
    const failed = response.statusCode >= 500;
    const level = requestLogLevel(response.statusCode);
    if (!this.root.isLevelEnabled(level)) return;
    const line: Record<string, unknown> = this.child ? {} : { req: this.request };
    line.res = response;
    if (failed) line.err = new Error(`failed with status code ${response.statusCode}`);
    line.responseTime = Date.now() - this.started;
    const message = failed ? 'request errored' : !this.request.raw.readableAborted && response.writableEnded ? 'request completed' : 'request aborted';
    (this.child ?? this.root)[level](line, message);
  };
}

const requestLogs = new AsyncLocalStorage<RequestLog>();

/**
 * nestjs-pino's logger, except that inside a request it logs through the request's logger,
 * so every line (a warning of a service, the exception filter's) names the request.
 */
class RequestAwarePinoLogger extends PinoLogger {
  override get logger(): pino.Logger {
    return requestLogs.getStore()?.logger ?? super.logger;
  }
}

/**
 * Request logs from Fastify hooks, without Nest's Express-style middleware bridge: one JSON
 * line per request when its response closes (request id, method, url, query, censored headers,
 * status, response headers, response time; error for 5xx, warn for 4xx; nothing for probes
 * and scrapes), and the request as `req` on every line logged while it is served. The
 * request's logger is only built when a line needs it, and the closing line serializes the
 * request itself when no line did. Makes the app log through that logger; call right after
 * the app is created.
 */
export function installRequestLogging(app: NestFastifyApplication): void {
  const params = app.get<Params>(PARAMS_PROVIDER_TOKEN);
  app.useLogger(new Logger(new RequestAwarePinoLogger(params), params));
  const root = PinoLogger.root;
  app
    .getHttpAdapter()
    .getInstance()
    .addHook('onRequest', (request, reply, done) => {
      const log = new RequestLog(root, request);
      // The response's close comes for a sent response and for one the client gave up on alike.
      if (!QUIET_PATHS.test(request.url)) reply.raw.once('close', () => log.closed(reply.raw));
      requestLogs.run(log, done);
    });
}
