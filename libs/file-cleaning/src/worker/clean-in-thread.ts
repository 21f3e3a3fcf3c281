import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { Readable, Writable } from 'node:stream';
import { finished } from 'node:stream/promises';
import type { ReadableStream, WritableStream } from 'node:stream/web';
import { Worker } from 'node:worker_threads';
import type { CleanStreamOptions } from '../cleaning/clean-stream';
import { CleaningError } from '../cleaning/cleaning-error';
import type { CleaningReport } from '../cleaning/cleaning-report';
import type { CleaningThreadJob, InputMessage, ThreadFailure, ThreadMessage } from './cleaning-thread.protocol';

export type ThreadCleanOptions = Pick<
  CleanStreamOptions,
  'totalBytes' | 'format' | 'delimiter' | 'encoding' | 'rules' | 'outputFormat' | 'output' | 'rejects' | 'signal' | 'onProgress'
> & {
  /** Opens the input; called once per read (twice for dedupe keep:"last"). */
  open: () => Readable;
  rejects: Writable;
};

const BUILT_ENTRY = join(__dirname, 'cleaning-thread.js');
const SOURCE_ENTRY = join(__dirname, 'cleaning-thread.ts');

/**
 * Code that starts the thread from the TypeScript sources (ts-jest runs them untranspiled to
 * disk): a require hook transpiles each .ts file with the project's own compiler options, as
 * ts-jest does. The built dist never takes this path.
 */
function sourceBootstrap(entry: string): string {
  return `
    const ts = require(${JSON.stringify(require.resolve('typescript'))});
    const fs = require('node:fs');
    const configPath = ts.findConfigFile(${JSON.stringify(__dirname)}, ts.sys.fileExists);
    const { config } = ts.readConfigFile(configPath, ts.sys.readFile);
    const { options } = ts.convertCompilerOptionsFromJson(config.compilerOptions, require('node:path').dirname(configPath));
    const compilerOptions = { ...options, module: ts.ModuleKind.CommonJS, sourceMap: false, inlineSourceMap: true, incremental: false };
    require.extensions['.ts'] = (module, filename) =>
      module._compile(ts.transpileModule(fs.readFileSync(filename, 'utf8'), { compilerOptions, fileName: filename }).outputText, filename);
    require(${JSON.stringify(entry)});
  `;
}

function startThread(job: CleaningThreadJob, transferList: Array<CleaningThreadJob['output']>): Worker {
  const options = { workerData: job, transferList: transferList as never[], name: 'file.clean' };
  if (existsSync(BUILT_ENTRY)) return new Worker(BUILT_ENTRY, options);
  return new Worker(sourceBootstrap(SOURCE_ENTRY), { ...options, eval: true });
}

function toError(failure: ThreadFailure): Error {
  if (failure.code) return new CleaningError(failure.code, failure.message, failure.details);
  return Object.assign(new Error(failure.message), { name: failure.name });
}

/**
 * Runs the cleaning engine on its own thread, so a slow or hostile file can never hold the
 * worker process's event loop: BullMQ keeps renewing locks and the health server keeps
 * answering. The signal (timeout, cancel, shutdown) terminates the thread at once, even in the
 * middle of a CPU-bound loop, and the promise rejects with the signal's reason; the outputs are
 * then left unfinished, so the caller discards them. Input and outputs stay streams of this
 * process (the file storage lives here); the thread reads and writes them through transferred
 * web streams, with backpressure both ways.
 */
export function cleanInThread(options: ThreadCleanOptions): Promise<CleaningReport> {
  const { signal } = options;
  if (signal?.aborted) return Promise.reject(signal.reason);
  const output = Writable.toWeb(options.output) as WritableStream<Uint8Array>;
  const rejects = Writable.toWeb(options.rejects) as WritableStream<Uint8Array>;
  const { totalBytes, format, delimiter, encoding, rules, outputFormat } = options;
  const thread = startThread({ options: { totalBytes, format, delimiter, encoding, rules, outputFormat }, output, rejects }, [output, rejects]);
  const inputs: Readable[] = [];

  return new Promise<CleaningReport>((resolve, reject) => {
    let settled = false;
    const finish = (error: unknown, report?: CleaningReport) => {
      if (settled) return;
      settled = true;
      signal?.removeEventListener('abort', abort);
      void thread.terminate();
      for (const input of inputs) input.destroy();
      if (error === undefined) resolve(report!);
      // eslint-disable-next-line @typescript-eslint/prefer-promise-reject-errors -- forwards the signal's reason or the thread's error as received
      else reject(error);
    };
    const abort = () => finish(signal!.reason);
    signal?.addEventListener('abort', abort, { once: true });

    thread.on('message', (message: ThreadMessage) => {
      switch (message.type) {
        case 'open': {
          const input = options.open();
          inputs.push(input);
          const stream = Readable.toWeb(input) as ReadableStream<Uint8Array>;
          thread.postMessage({ type: 'input', id: message.id, stream } satisfies InputMessage, [stream as never]);
          break;
        }
        case 'progress':
          if (!settled) options.onProgress?.(message.progress);
          break;
        case 'done':
          // The outputs' last bytes travel on their own ports and may arrive after this message:
          // the run is over only once both streams of this process have finished (and the
          // thread lives until then, so nothing it sent is dropped).
          Promise.all([finished(options.output), finished(options.rejects)]).then(
            () => finish(undefined, message.report),
            (error: unknown) => finish(error),
          );
          break;
        case 'failed':
          finish(toError(message.error));
          break;
      }
    });
    thread.on('error', (error) => finish(error));
    thread.on('exit', (code) => finish(new Error(`the cleaning thread stopped (exit code ${code}) before it finished`)));
  });
}
