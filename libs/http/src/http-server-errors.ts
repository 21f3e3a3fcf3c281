import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify';
import type { ApiErrorBody } from './api-error';
import { answeredBeforeBodyEnded } from './unread-body';

const ROUTER_ERRORS: Record<string, [code: string, message: string]> = {
  FST_ERR_BAD_URL: ['INVALID_URL', 'The URL is not valid (malformed percent-encoding)'],
  FST_ERR_MAX_PARAM_LENGTH: ['URI_TOO_LONG', 'A path segment is too long'],
};

/**
 * Fastify's `frameworkErrors`: the router refuses a malformed URL (400) or an over-long path
 * parameter (414) before any route, hook or Nest exception filter runs, and would answer in
 * Fastify's own error shape. This answers with the API's error body instead. (It replaces
 * Nest's default handler, whose only extra is Nest's built-in security hook; this API sets
 * its security headers with helmet, see useSecurityHeaders.)
 */
export function routerErrorHandler(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  const status = error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 400;
  const [code, message] = ROUTER_ERRORS[error.code] ?? ['BAD_REQUEST', 'The request could not be routed'];
  const body: ApiErrorBody = { error: { code, message, requestId: String(request.id) } };
  void reply.status(status).header('content-type', 'application/json; charset=utf-8').send(body);
}

const LINGER_MS = 2000;

/**
 * Fastify's `clientErrorHandler`: Node's HTTP parser refuses a request it cannot parse (a
 * control character in a header, raw non-ASCII bytes in the URL, headers over the size
 * limit) before Fastify sees a request. Answers with the error body, then closes in stages:
 * Fastify's default (like Node's) destroys the socket at once, and closing with the rest of
 * the request still unread sends a TCP reset that can wipe the answer out of the client's
 * buffer; here the rest is read and dropped while the close completes.
 */
export function clientErrorHandler(error: NodeJS.ErrnoException, socket: Socket): void {
  // A response already under way on this connection (e.g. the 413 for a body over the limit,
  // while the rest of that body still arrives) must not get a second one written into it: the
  // client would read garbage. Node's own handler takes the same care.
  const inFlight = (socket as Socket & { _httpMessage?: { headersSent?: boolean } })._httpMessage;
  if (error.code === 'ECONNRESET' || socket.destroyed || !socket.writable || inFlight?.headersSent || answeredBeforeBodyEnded(socket)) {
    socket.destroy();
    return;
  }
  const [status, code, message] =
    error.code === 'HPE_HEADER_OVERFLOW'
      ? [431, 'HEADERS_TOO_LARGE', 'The request headers are too large']
      : error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
        ? [408, 'REQUEST_TIMEOUT', 'The request took too long to arrive']
        : [400, 'BAD_REQUEST', 'The request is not valid HTTP'];
  const body = JSON.stringify({ error: { code, message } } satisfies ApiErrorBody);
  // The parser is done with this connection: nothing read from now on may reach it again.
  socket.removeAllListeners('data');
  socket.on('data', () => undefined);
  socket.resume();
  socket.setTimeout(LINGER_MS, () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status]}\r\nContent-Type: application/json; charset=utf-8\r\n` +
      `Content-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`,
  );
}

/** Both, as FastifyAdapter options: `new FastifyAdapter({ ...httpServerErrorOptions, … })`. */
export const httpServerErrorOptions = { frameworkErrors: routerErrorHandler, clientErrorHandler };
