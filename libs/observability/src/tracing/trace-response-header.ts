import type { FastifyInstance } from 'fastify';
import { activeTraceparent } from './trace-context';
import { tracingOn } from './tracing-state';

/**
 * Answers every traced request with a `traceparent` header naming its server span, so a caller
 * can find the trace of what it asked for (an incoming `traceparent` makes the request part of
 * the caller's trace already, through the HTTP instrumentation). Nothing is installed with
 * tracing off.
 */
export function installTraceResponseHeader(fastify: FastifyInstance): void {
  if (!tracingOn) return;
  fastify.addHook('onRequest', (_request, reply, done) => {
    const traceparent = activeTraceparent();
    if (traceparent) reply.header('traceparent', traceparent);
    done();
  });
}
