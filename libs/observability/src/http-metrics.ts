import type { FastifyInstance } from 'fastify';
import type { TaskMetrics } from './task-metrics';

/**
 * Counts and times every HTTP response, including 404s and errors that never reach a
 * controller. Routes are labelled by their template (`/v1/tasks/:id`) to keep cardinality low.
 */
export function installHttpMetrics(fastify: FastifyInstance, metrics: TaskMetrics): void {
  fastify.addHook('onResponse', (request, reply, done) => {
    const route = request.routeOptions?.url ?? 'unmatched';
    metrics.httpRequest(request.method, route, reply.statusCode, reply.elapsedTime / 1000);
    done();
  });
}
