/**
 * Entry of a cleaning thread (node:worker_threads): runs the engine on one file, reading the
 * input and writing the outputs through web streams the worker process transferred. It imports
 * only the pure engine (relative paths, npm packages), so it loads from the built dist and,
 * transpiled on the fly, from the sources under ts-jest (see clean-in-thread.ts).
 */
import { PassThrough, Readable, Writable } from 'node:stream';
import { parentPort, workerData } from 'node:worker_threads';
import { cleanStream } from '../cleaning/clean-stream';
import { CleaningError } from '../cleaning/cleaning-error';
import type { CleaningThreadJob, InputMessage, ThreadFailure, ThreadMessage } from './cleaning-thread.protocol';

const port = parentPort!;
const job = workerData as CleaningThreadJob;
const send = (message: ThreadMessage) => port.postMessage(message);

// keep:"last" opens the input twice; each open is a request the process answers with a stream.
const inputs = new Map<number, PassThrough>();
port.on('message', (message: InputMessage) => {
  const target = inputs.get(message.id);
  if (message.type !== 'input' || !target) return;
  Readable.fromWeb(message.stream)
    .on('error', (error) => target.destroy(error))
    .pipe(target);
});
const open = (): Readable => {
  const id = inputs.size;
  const stream = new PassThrough({ highWaterMark: 256 * 1024 });
  inputs.set(id, stream);
  send({ type: 'open', id });
  return stream;
};

function failure(error: unknown): ThreadFailure {
  if (error instanceof CleaningError) return { name: error.name, message: error.message, code: error.code, details: [...error.details] };
  return error instanceof Error ? { name: error.name, message: error.message } : { name: 'Error', message: String(error) };
}

cleanStream({
  ...job.options,
  input: open,
  output: Writable.fromWeb(job.output),
  rejects: Writable.fromWeb(job.rejects),
  onProgress: (progress) => send({ type: 'progress', progress }),
}).then(
  (report) => send({ type: 'done', report }),
  (error: unknown) => send({ type: 'failed', error: failure(error) }),
);
