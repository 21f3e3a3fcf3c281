import type { FastifyReply } from 'fastify';
import type { TaskEntity } from '../ledger/task.entity';
import { isTerminal } from '../ledger/task-status';
import type { TaskEventStreams } from './task-event-streams.service';
import { toTaskView } from './task.view';

const KEEPALIVE_MS = 15_000;

/**
 * Server-Sent Events for one task: a `status` event for every status change and a `progress`
 * event for every progress change, until the task is terminal, then the stream closes.
 *
 * The stream follows the ledger (TaskEventStreams polls it, one primary-key read per task
 * however many streams watch it) rather than listening to one worker: the ledger is shared, so
 * this works behind any number of API instances and never misses a change made while the
 * client was connecting. `release` gives the stream's slot back; it is called however the
 * stream ends (terminal task, task removed, client gone, write failure).
 */
export function streamTaskEvents(reply: FastifyReply, streams: TaskEventStreams, first: TaskEntity, release: () => void): void {
  reply.hijack();
  const raw = reply.raw;
  let stopWatching: () => void = () => undefined;
  let ended = false;
  const end = () => {
    if (ended) return;
    ended = true;
    stopWatching();
    release();
    if (!raw.writableEnded && !raw.destroyed) raw.end();
  };
  raw.once('close', end);
  raw.once('error', end);
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

  let sequence = 0;
  let lastWrite = Date.now();
  const write = (text: string) => {
    if (raw.writableEnded || raw.destroyed) return;
    raw.write(text);
    lastWrite = Date.now();
  };
  const send = (event: string, data: unknown) => {
    sequence += 1;
    write(`id: ${sequence}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  let last = first;
  send('status', toTaskView(first));
  if (isTerminal(first.status)) return end();
  stopWatching = streams.watch(first.tenantId, first.id, (current) => {
    try {
      if (current === null) {
        send('error', { code: 'TASK_NOT_FOUND', message: 'the task was removed' });
        return end();
      }
      if (current && current.status !== last.status) {
        send('status', toTaskView(current));
      } else if (current && JSON.stringify(current.progress) !== JSON.stringify(last.progress)) {
        send('progress', { id: current.id, status: current.status, progress: current.progress });
      } else if (Date.now() - lastWrite > KEEPALIVE_MS) {
        // Also while the ledger cannot be read (current undefined): the next poll tries again.
        write(': keep-alive\n\n');
      }
      if (!current) return;
      last = current;
      if (isTerminal(current.status)) end();
    } catch {
      end();
    }
  });
}
