import type { FastifyReply } from 'fastify';
import type { TaskEntity } from '../ledger/task.entity';
import { isTerminal } from '../ledger/task-status';
import type { TaskEventStreams } from './task-event-streams.service';
import { toTaskView } from '../ledger/task-view';

const KEEPALIVE_MS = 15_000;

/**
 * Server-Sent Events for one task: a `status` event for every status change and a `progress`
 * event for every progress change, until the task is terminal, then the stream closes.
 *
 * The stream follows the ledger (TaskEventStreams reads the row when a change is announced, one
 * primary-key read per change however many streams watch the task) rather than listening to
 * one worker: the ledger is shared, so this works behind any number of API instances and never
 * misses a change made while the client was connecting. Each event's id is the row's version;
 * a client that reconnects with `Last-Event-ID` gets the task's status again only if it changed. `release` gives the stream's slot back; it is called however the
 * stream ends (terminal task, task removed, client gone, write failure).
 */
/** A row's version: its last change's time. */
const versionOf = (task: TaskEntity) => String(task.updatedAt.getTime());

export function streamTaskEvents(reply: FastifyReply, streams: TaskEventStreams, first: TaskEntity, release: () => void, lastEventId?: string): void {
  reply.hijack();
  const raw = reply.raw;
  let stopWatching: () => void = () => undefined;
  let unregister: () => void = () => undefined;
  // Comments keep proxies from closing a quiet stream; `write` and `lastWrite` are set below.
  const keepAlive = setInterval(() => {
    if (Date.now() - lastWrite >= KEEPALIVE_MS) write(': keep-alive\n\n');
  }, KEEPALIVE_MS);
  keepAlive.unref();
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    clearInterval(keepAlive);
    stopWatching();
    unregister();
    release();
    if (!raw.writableEnded && !raw.destroyed) raw.end();
  };
  raw.once('close', end);
  raw.once('error', end);
  unregister = streams.closeOnShutdown(end);
  // The client may have gone while the task was looked up: no 'close' would come any more.
  if (raw.destroyed || raw.socket?.destroyed !== false) return end();
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // Proxies (nginx) must not buffer the stream.
    'x-accel-buffering': 'no',
    'x-request-id': String(reply.request.id),
  });
  // Sent now, not with the first event: a resumed stream may have nothing to say for a while.
  raw.flushHeaders();

  let lastWrite = Date.now();
  const write = (text: string) => {
    if (raw.writableEnded || raw.destroyed) return;
    raw.write(text);
    lastWrite = Date.now();
  };
  // The event id is the row's version: a client reconnecting with it as Last-Event-ID is sent
  // the task again only if it changed meanwhile.
  const send = (event: string, task: TaskEntity, data: unknown) => write(`id: ${versionOf(task)}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);

  let last = first;
  if (lastEventId !== versionOf(first)) send('status', first, toTaskView(first));
  if (isTerminal(first.status)) return end();
  stopWatching = streams.watch(first.tenantId, first.id, (current) => {
    try {
      if (current === null) {
        write(`event: error\ndata: ${JSON.stringify({ code: 'TASK_NOT_FOUND', message: 'the task was removed' })}\n\n`);
        return end();
      }
      // Undefined: the ledger could not be read; the next change or look tries again.
      if (!current) return;
      if (current.status !== last.status) {
        send('status', current, toTaskView(current));
      } else if (JSON.stringify(current.progress) !== JSON.stringify(last.progress)) {
        send('progress', current, { id: current.id, status: current.status, progress: current.progress });
      }
      last = current;
      if (isTerminal(current.status)) end();
    } catch {
      end();
    }
  });
}
