import { ArgumentsHost, Catch, HttpException, HttpStatus, Logger, type ExceptionFilter } from '@nestjs/common';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { isDatabaseUnavailable } from '@conveyor/database';
import { DomainError, type DomainErrorKind } from '@conveyor/errors';
import { ApiError, type ApiErrorBody } from './api-error';

/** The one place a domain error's kind becomes an HTTP status. */
export const STATUS_BY_KIND: Readonly<Record<DomainErrorKind, HttpStatus>> = {
  invalid: HttpStatus.BAD_REQUEST,
  forbidden: HttpStatus.FORBIDDEN,
  not_found: HttpStatus.NOT_FOUND,
  conflict: HttpStatus.CONFLICT,
  gone: HttpStatus.GONE,
  too_large: HttpStatus.PAYLOAD_TOO_LARGE,
  unsupported: HttpStatus.UNSUPPORTED_MEDIA_TYPE,
  unprocessable: HttpStatus.UNPROCESSABLE_ENTITY,
  rate_limited: HttpStatus.TOO_MANY_REQUESTS,
  unavailable: HttpStatus.SERVICE_UNAVAILABLE,
};

export const CODE_BY_STATUS: Readonly<Record<number, string>> = {
  400: 'BAD_REQUEST',
  401: 'UNAUTHORIZED',
  403: 'FORBIDDEN',
  404: 'NOT_FOUND',
  405: 'METHOD_NOT_ALLOWED',
  406: 'NOT_ACCEPTABLE',
  409: 'CONFLICT',
  413: 'PAYLOAD_TOO_LARGE',
  415: 'UNSUPPORTED_MEDIA_TYPE',
  422: 'UNPROCESSABLE_ENTITY',
  429: 'RATE_LIMITED',
  503: 'SERVICE_UNAVAILABLE',
};

/** Fastify's own client errors (bad JSON, wrong content type, body too large) by code. */
const FASTIFY_CODES: Record<string, string> = {
  FST_ERR_CTP_INVALID_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_EMPTY_JSON_BODY: 'INVALID_JSON',
  FST_ERR_CTP_BODY_TOO_LARGE: 'PAYLOAD_TOO_LARGE',
  FST_ERR_CTP_INVALID_MEDIA_TYPE: 'UNSUPPORTED_MEDIA_TYPE',
  FST_ERR_CTP_INVALID_CONTENT_LENGTH: 'BAD_REQUEST',
};

/**
 * Renders every error as the contract's error body: services throw DomainErrors (status by
 * kind, see STATUS_BY_KIND), HTTP-level code (pipes, guards) ApiErrors. Client errors keep their message;
 * unexpected errors are logged with their stack and answered with a bare 500, never a stack.
 */
@Catch()
export class ApiExceptionFilter implements ExceptionFilter {
  private readonly logger = new Logger('HttpError');

  /** `onServerError` hears of every 5xx answer, with what caused it (the API reports it as an error). */
  constructor(private readonly onServerError?: (exception: unknown, request: FastifyRequest) => void) {}

  catch(exception: unknown, host: ArgumentsHost): void {
    const http = host.switchToHttp();
    const reply = http.getResponse<FastifyReply>();
    const request = http.getRequest<FastifyRequest>();
    const { status, body } = ApiExceptionFilter.toBody(exception);
    if (status >= 500) {
      this.logger.error({ err: exception, reqId: request.id, url: request.url }, 'request failed');
      // A 503 is the database or Redis away (answered, retried by clients), not a fault to report.
      if (status !== HttpStatus.SERVICE_UNAVAILABLE) this.onServerError?.(exception, request);
    }
    body.error.requestId = String(request.id);
    if (status === HttpStatus.SERVICE_UNAVAILABLE) reply.header('retry-after', '2');
    else if ((exception instanceof ApiError || exception instanceof DomainError) && exception.retryAfterSeconds !== undefined) {
      reply.header('retry-after', String(exception.retryAfterSeconds));
    }
    void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
  }

  /**
   * Nest re-throws Fastify's body-parser errors as plain HttpExceptions with the Fastify
   * error as `cause`; its code tells a JSON syntax error from other bad requests.
   */
  private static codeOf(exception: HttpException, status: number): string {
    const causeCode = (exception.cause as { code?: string } | undefined)?.code;
    if (causeCode && FASTIFY_CODES[causeCode]) return FASTIFY_CODES[causeCode];
    return CODE_BY_STATUS[status] ?? 'HTTP_ERROR';
  }

  /** Any thrown value as the error body (without requestId) and status; also for non-Nest routes. */
  static toBody(exception: unknown): { status: number; body: ApiErrorBody } {
    if (exception instanceof DomainError) {
      return {
        status: STATUS_BY_KIND[exception.kind],
        body: { error: { code: exception.code, message: exception.message, details: exception.details } },
      };
    }
    if (exception instanceof ApiError) {
      return {
        status: exception.getStatus(),
        body: { error: { code: exception.code, message: exception.message, details: exception.details } },
      };
    }
    if (exception instanceof HttpException) {
      const status = exception.getStatus();
      if (status >= 500) {
        // Server-side messages may carry internals; the log has them, the client gets the code.
        return { status, body: { error: { code: CODE_BY_STATUS[status] ?? 'INTERNAL_ERROR', message: 'The server could not complete the request' } } };
      }
      const response = exception.getResponse();
      const raw: unknown = typeof response === 'string' ? response : ((response as { message?: unknown }).message ?? exception.message);
      const message = Array.isArray(raw) ? raw.join('; ') : String(raw);
      return { status, body: { error: { code: ApiExceptionFilter.codeOf(exception, status), message } } };
    }
    const fastifyError = exception as { code?: string; statusCode?: number; message?: string };
    if (typeof fastifyError?.statusCode === 'number' && fastifyError.statusCode >= 400 && fastifyError.statusCode < 500) {
      const code = (fastifyError.code && FASTIFY_CODES[fastifyError.code]) ?? CODE_BY_STATUS[fastifyError.statusCode] ?? 'BAD_REQUEST';
      return { status: fastifyError.statusCode, body: { error: { code, message: fastifyError.message ?? 'Bad request' } } };
    }
    if (isDatabaseUnavailable(exception)) {
      // Not the request's fault and not a bug: the same request may succeed in a moment.
      return {
        status: HttpStatus.SERVICE_UNAVAILABLE,
        body: { error: { code: 'DATABASE_UNAVAILABLE', message: 'The task ledger database is unavailable; retry later' } },
      };
    }
    return {
      status: HttpStatus.INTERNAL_SERVER_ERROR,
      body: { error: { code: 'INTERNAL_ERROR', message: 'Internal server error' } },
    };
  }
}
