import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

const SAFE_ID = /^[\w.:-]{1,128}$/;

/**
 * One request id per request (Fastify's `genReqId`: `request.id`, the response header, the
 * request logs), stored on the raw request so a second caller gets the same one.
 * A caller's own `x-request-id` is kept when it is short and safe.
 */
export function requestIdOf(request: IncomingMessage): string {
  const raw = request as IncomingMessage & { id?: unknown };
  if (typeof raw.id === 'string') return raw.id;
  const given = request.headers['x-request-id'];
  const id = typeof given === 'string' && SAFE_ID.test(given) ? given : randomUUID();
  raw.id = id;
  return id;
}
