import { STATUS_CODES } from 'node:http';
import type { FastifyReply, FastifyRequest } from 'fastify';
import { ApiExceptionFilter, CODE_BY_STATUS, type ApiErrorBody } from '@conveyor/http';

/** Bull Board's error keys that read better as a sentence. */
const MESSAGES: Record<string, string> = {
  QUEUE_READ_ONLY: 'The queue dashboard is read-only: cancel and retry tasks through /v1/tasks',
  QUEUE_NOT_FOUND: 'No such queue',
  JOB_NOT_FOUND: 'No such job',
};

/** What a dashboard route threw, kept for the onSend hook: Bull Board's own error handler drops the code. */
const thrown = new WeakMap<FastifyRequest, unknown>();

/** An onError hook of the dashboard's scope; runs before Bull Board's error handler. */
export async function rememberDashboardError(request: FastifyRequest, _reply: FastifyReply, error: unknown): Promise<void> {
  thrown.set(request, error);
}

function parse(payload: unknown): { error?: { code?: unknown; key?: unknown; options?: unknown }; message?: unknown } | undefined {
  if (typeof payload !== 'string' && !Buffer.isBuffer(payload)) return undefined;
  try {
    const parsed: unknown = JSON.parse(payload.toString());
    return parsed !== null && typeof parsed === 'object' ? parsed : undefined;
  } catch {
    return undefined;
  }
}

/** Bull Board's `{"error":{"key":"ERRORS.X"}}` answer (a refused action, an unknown queue) in the API's form. */
function fromBullBoard(status: number, own: ReturnType<typeof parse>): ApiErrorBody {
  const key = typeof own?.error?.key === 'string' ? own.error.key : undefined;
  const name = key?.replace(/^ERRORS\./, '');
  const code = status >= 500 ? 'INTERNAL_ERROR' : name && /^[A-Z0-9_]{1,64}$/.test(name) ? name : (CODE_BY_STATUS[status] ?? 'HTTP_ERROR');
  const message =
    status >= 500
      ? 'Internal server error'
      : ((name && MESSAGES[name]) ?? (typeof own?.message === 'string' ? own.message : (STATUS_CODES[status] ?? 'Error')));
  // The board's own page translates `key` (with its `options`) for its notices.
  return { error: { code, message, ...(key && status < 500 ? { key, options: own?.error?.options } : {}) } };
}

/**
 * An onSend hook of the dashboard's scope: every error answer there (Bull Board's own, and what
 * its error handler made of a thrown error: bad JSON, a body over the limit, …) leaves in the
 * API's error body, like every other route's.
 */
export async function dashboardErrorBody(request: FastifyRequest, reply: FastifyReply, payload: unknown): Promise<unknown> {
  if (reply.statusCode < 400) return payload;
  const own = parse(payload);
  if (typeof own?.error?.code === 'string') return payload;
  let status = reply.statusCode;
  let body: ApiErrorBody;
  if (thrown.has(request)) {
    ({ status, body } = ApiExceptionFilter.toBody(thrown.get(request)));
    if (status >= 500) request.log.error({ err: thrown.get(request) }, 'dashboard request failed');
  } else {
    body = fromBullBoard(status, own);
  }
  body.error.requestId = String(request.id);
  void reply.status(status).header('content-type', 'application/json; charset=utf-8');
  return JSON.stringify(body);
}
