import type { IncomingMessage, ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import helmet, { type HelmetOptions } from 'helmet';

/**
 * helmet's response headers for these options, worked out once. helmet's own middleware
 * rebuilds (and re-parses the Content-Security-Policy of) its configuration on every request
 * when mounted through @fastify/helmet: 4 % of the API's CPU on `POST /v1/tasks`. The headers
 * do not depend on the request, so the same list serves every response.
 */
export function securityHeaders(options: HelmetOptions): Array<[string, string]> {
  const headers = new Map<string, string>();
  const response = {
    setHeader: (name: string, value: string | number | readonly string[]) =>
      headers.set(name.toLowerCase(), Array.isArray(value) ? value.join(', ') : String(value)),
    removeHeader: (name: string) => headers.delete(name.toLowerCase()),
  };
  // helmet (8.1+) throws a bad option itself; the callback only says it is done.
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, () => undefined);
  return [...headers];
}

/** What useSecurityHeaders puts on every response, by header name (empty until it ran). */
const everyResponse = new Map<string, string>();

/**
 * True for a security header that still has the value every response gets: request logs leave
 * those out (~750 bytes per line, the same on every line); one a route changed is logged.
 */
export function isStandardSecurityHeader(name: string, value: unknown): boolean {
  return everyResponse.get(name) === value;
}

/**
 * Sets the security headers on every response, first thing on each request (so a refusal by a
 * later hook carries them too). They go on the raw response, as helmet itself writes them; a
 * header set through `reply` later (e.g. the dashboard's relaxed CSP) wins over them.
 */
export function useSecurityHeaders(fastify: FastifyInstance, options: HelmetOptions): void {
  const headers = securityHeaders(options);
  for (const [name, value] of headers) everyResponse.set(name, value);
  fastify.addHook('onRequest', (_request, reply, done) => {
    for (const [name, value] of headers) reply.raw.setHeader(name, value);
    done();
  });
}
