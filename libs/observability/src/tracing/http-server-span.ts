import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { tracer } from './trace-context';
import { tracingOn } from './tracing-state';

/** Probes and scrapes: frequent, uninteresting, and they would bury the traces worth reading. */
const UNTRACED_PATHS = /^\/(health|metrics)(\/|\?|$)/;

const TRACE = Symbol('conveyor.requestTrace');
type TracedRequest = FastifyRequest & { [TRACE]?: { span: Span; context: Context } };

/**
 * The API's server span, one per request, from Fastify hooks rather than the HTTP
 * instrumentation (which wraps the listeners of every request and response to carry its
 * context, several times the cost): a child of the caller's `traceparent` when one came,
 * named after the route (`POST /v1/tasks`), ended with the status code. Every traced answer
 * carries `traceparent` naming it, so a caller can find the trace of what it asked for.
 *
 * The context is entered in `onRequest`, and again in `preValidation`: the body is read in
 * the socket's callbacks, which run outside it, and the handler runs after. Installed first
 * among the hooks that should see it; nothing is installed with tracing off.
 */
export function installServerSpans(fastify: FastifyInstance): void {
  if (!tracingOn) return;
  fastify.addHook('onRequest', (request, reply, done) => {
    if (UNTRACED_PATHS.test(request.url)) return done();
    const parent = propagation.extract(ROOT_CONTEXT, request.headers);
    const route = request.routeOptions.url;
    const query = request.url.indexOf('?');
    const span = tracer().startSpan(
      route ? `${request.method} ${route}` : request.method,
      {
        kind: SpanKind.SERVER,
        attributes: {
          'http.request.method': request.method,
          'url.path': query === -1 ? request.url : request.url.slice(0, query),
          ...(route ? { 'http.route': route } : {}),
        },
      },
      parent,
    );
    const traced = { span, context: trace.setSpan(parent, span) };
    (request as TracedRequest)[TRACE] = traced;
    const { traceId, spanId, traceFlags } = span.spanContext();
    reply.header('traceparent', `00-${traceId}-${spanId}-0${traceFlags & 1}`);
    context.with(traced.context, done);
  });
  fastify.addHook('preValidation', (request, _reply, done) => {
    const traced = (request as TracedRequest)[TRACE];
    if (traced) context.with(traced.context, done);
    else done();
  });
  fastify.addHook('onResponse', (request, reply, done) => {
    end(request, reply.statusCode);
    done();
  });
  fastify.addHook('onRequestAbort', (request, done) => {
    end(request, null);
    done();
  });
}

/** Ends the request's span once: with its status code, or as aborted (null). */
function end(request: TracedRequest, statusCode: number | null): void {
  const traced = request[TRACE];
  if (!traced) return;
  request[TRACE] = undefined;
  if (statusCode === null) traced.span.setStatus({ code: SpanStatusCode.ERROR, message: 'request aborted by the client' });
  else {
    traced.span.setAttribute('http.response.status_code', statusCode);
    if (statusCode >= 500) traced.span.setStatus({ code: SpanStatusCode.ERROR });
  }
  traced.span.end();
}
