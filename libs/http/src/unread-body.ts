import type { Socket } from 'node:net';
import type { FastifyInstance, FastifyRequest } from 'fastify';

/** How long, and how much, the rest of a half-read request body is read before the connection is cut. */
export const DRAIN_LIMIT_MS = 5000;
export const DRAIN_LIMIT_BYTES = 64 * 1024 * 1024;

/** Connections whose request was answered before its body was read to the end. */
const answeredWhileReading = new WeakSet<Socket>();

/**
 * Reads and drops what is left of a request body its handler stopped reading: an upload refused
 * part-way (over the size limit, a cut-off part). Node drains a body nobody touched by itself,
 * but not one that was read in part, and @fastify/multipart lets go of the request once the
 * file stream fails; the request then stays paused with bytes unread, the connection can parse
 * no further request, and a keep-alive client waits forever for its next answer there. A client
 * still sending after DRAIN_LIMIT_MS or DRAIN_LIMIT_BYTES loses the connection instead: it
 * already has its answer.
 */
export function drainUnreadBody(request: FastifyRequest): void {
  const raw = request.raw;
  if (raw.readableEnded || raw.destroyed || (raw.complete && raw.readableLength === 0)) return;
  if (raw.socket) answeredWhileReading.add(raw.socket);
  let drained = 0;
  const cut = (): void => {
    clearTimeout(timer);
    raw.socket?.destroy();
  };
  const timer = setTimeout(cut, DRAIN_LIMIT_MS);
  timer.unref();
  // A multipart parser may still be attached (the handler returned before the last part); it
  // would hold the stream back as soon as a part came that nobody reads.
  raw.unpipe();
  raw.on('data', (chunk: Buffer) => {
    drained += chunk.length;
    if (drained > DRAIN_LIMIT_BYTES) cut();
  });
  raw.once('end', () => {
    clearTimeout(timer);
    if (raw.socket) answeredWhileReading.delete(raw.socket);
  });
  raw.once('close', () => clearTimeout(timer));
  raw.resume();
}

/**
 * Whether the connection's current request already has its answer while its body still
 * arrives (e.g. a 401 sent before the body was read): a request timeout on it must close the
 * connection, not write a second response the client never asked for.
 */
export function answeredBeforeBodyEnded(socket: Socket): boolean {
  return answeredWhileReading.has(socket);
}

/** Drains every response's leftover request body (see drainUnreadBody). */
export function installUnreadBodyDrain(fastify: FastifyInstance): void {
  fastify.addHook('onResponse', (request, _reply, done) => {
    drainUnreadBody(request);
    done();
  });
}
