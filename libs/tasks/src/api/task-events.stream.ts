import type { FastifyReply } from 'fastify';
import { TaskLedgerService } from '../ledger/task-ledger.service';
import type { TaskEntity } from '../ledger/task.entity';
import { isTerminal } from '../ledger/task-status';
import { toTaskView } from './task.view';

const POLL_MS = 250;
const KEEPALIVE_MS = 15_000;

/**
 * Server-Sent Events for one task: a `status` event for every status change and a `progress`
 * event for every progress change, until the task is terminal, then the stream closes.
 *
 * The stream reads the ledger (one indexed primary-key read per watcher every 250 ms) rather
 * than listening to one worker: the ledger is shared, so this works behind any number of API
 * instances and never misses a change made while the client was connecting.
 */
export async function streamTaskEvents(reply: FastifyReply, ledger: TaskLedgerService, first: TaskEntity): Promise<void> {
  reply.hijack();
  const raw = reply.raw;
  raw.writeHead(200, {
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-cache, no-transform',
    connection: 'keep-alive',
    // Proxies (nginx) must not buffer the stream.
    'x-accel-buffering': 'no',
    'x-request-id': String(reply.request.id),
  });
  let closed = false;
  raw.on('close', () => (closed = true));

  let sequence = 0;
  const send = (event: string, data: unknown) => {
    sequence += 1;
    raw.write(`id: ${sequence}\nevent: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
  };

  let last = first;
  send('status', toTaskView(first));
  let lastWrite = Date.now();
  while (!closed && !isTerminal(last.status)) {
    await new Promise((resolve) => setTimeout(resolve, POLL_MS));
    if (closed) break;
    const current = await ledger.findOne(first.tenantId, first.id).catch(() => undefined);
    if (current === undefined) continue; // database hiccup: try again next tick
    if (current === null) {
      send('error', { code: 'TASK_NOT_FOUND', message: 'the task was removed' });
      break;
    }
    if (current.status !== last.status) {
      send('status', toTaskView(current));
      lastWrite = Date.now();
    } else if (JSON.stringify(current.progress) !== JSON.stringify(last.progress)) {
      send('progress', { id: current.id, status: current.status, progress: current.progress });
      lastWrite = Date.now();
    } else if (Date.now() - lastWrite > KEEPALIVE_MS) {
      raw.write(': keep-alive\n\n');
      lastWrite = Date.now();
    }
    last = current;
  }
  if (!closed) raw.end();
}
