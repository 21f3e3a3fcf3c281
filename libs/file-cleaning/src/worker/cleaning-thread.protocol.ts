import type { ReadableStream, WritableStream } from 'node:stream/web';
import type { CleanStreamOptions, CleaningProgress } from '../cleaning/clean-stream';
import type { CleaningErrorCode } from '../cleaning/cleaning-error';
import type { CleaningReport } from '../cleaning/cleaning-report';

/**
 * What passes between the worker process and a cleaning thread (clean-in-thread.ts and
 * cleaning-thread.ts). Bytes travel as transferred web streams, so both directions keep
 * backpressure; everything else is plain data.
 */

/** The thread's workerData: the engine options that are plain data, and the two outputs. */
export interface CleaningThreadJob {
  options: Pick<CleanStreamOptions, 'totalBytes' | 'format' | 'delimiter' | 'encoding' | 'rules' | 'outputFormat'>;
  output: WritableStream<Uint8Array>;
  rejects: WritableStream<Uint8Array>;
}

/** From the process to the thread: the input it asked for with `open`. */
export interface InputMessage {
  type: 'input';
  id: number;
  stream: ReadableStream<Uint8Array>;
}

/** A failure as the thread saw it; a CleaningError keeps its code and details. */
export interface ThreadFailure {
  name: string;
  message: string;
  code?: CleaningErrorCode;
  details?: Array<{ field: string; message: string }>;
}

/** From the thread to the process. */
export type ThreadMessage =
  | { type: 'open'; id: number }
  | { type: 'progress'; progress: CleaningProgress }
  | { type: 'done'; report: CleaningReport }
  | { type: 'failed'; error: ThreadFailure };
