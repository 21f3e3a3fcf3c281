import type { Logger } from 'pino';
import { uuidv7 } from 'uuidv7';
import { storableJson } from '../ledger/storable-json';

export const TASK_LOG_LEVELS = ['info', 'warn', 'error'] as const;
export type TaskLogLevel = (typeof TASK_LOG_LEVELS)[number];

/** `ctx.log`: lines for the worker's output and for the task's own log (`GET /v1/tasks/:id/logs`). */
export interface TaskLog {
  info(message: string, fields?: Record<string, unknown>): void;
  warn(message: string, fields?: Record<string, unknown>): void;
  error(message: string, fields?: Record<string, unknown>): void;
}

/** A line on its way to the `task_logs` table; `fields` is JSON text already. */
export interface TaskLogRow {
  id: string;
  taskId: string;
  attempt: number;
  level: TaskLogLevel;
  message: string;
  fields: string | null;
  loggedAt: Date;
}

/** Where an attempt's kept lines go (the worker's batched TaskLogWriter). */
export interface TaskLogSink {
  append(row: TaskLogRow): void;
}

export interface TaskLogLimits {
  maxLines: number;
  maxBytes: number;
}

/** Longest message kept per line (in characters); a longer one is cut and says so. */
export const MAX_LOG_MESSAGE = 8192;

/** NUL and unpaired surrogates: text no SQL text column of ours takes as it is. */
// eslint-disable-next-line no-control-regex -- NUL is what this looks for
const UNSTORABLE_TEXT = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;

function storableMessage(message: unknown): string {
  let text = typeof message === 'string' ? message : String(message);
  if (text.length > MAX_LOG_MESSAGE) text = `${text.slice(0, MAX_LOG_MESSAGE)}… (${text.length - MAX_LOG_MESSAGE} more characters)`;
  return text.replace(UNSTORABLE_TEXT, '\ufffd');
}

function storableFields(fields: Record<string, unknown> | undefined): string | null {
  if (fields === undefined || fields === null) return null;
  try {
    return storableJson(fields);
  } catch (error) {
    return storableJson({ unserializable: error instanceof Error ? error.message : String(error) });
  }
}

/**
 * The log of one attempt: every line goes to pino (with the attempt's bindings), and, within
 * TASK_LOG_MAX_LINES and TASK_LOG_MAX_BYTES (message and fields as JSON, in bytes), to the
 * sink. Lines past a cap are counted, and `close()` (the attempt's end) appends one more line
 * saying how many were dropped. After `close()` a handler abandoned on timeout still logs to
 * pino, but keeps nothing: an attempt's stored log is bounded by the caps plus that one line.
 */
export class AttemptLog implements TaskLog {
  private lines = 0;
  private bytes = 0;
  private droppedLines = 0;
  private droppedBytes = 0;
  private closed = false;

  constructor(
    private readonly taskId: string,
    private readonly attempt: number,
    private readonly logger: Logger,
    private readonly sink: TaskLogSink,
    private readonly limits: TaskLogLimits,
  ) {}

  info(message: string, fields?: Record<string, unknown>): void {
    this.write('info', message, fields);
  }

  warn(message: string, fields?: Record<string, unknown>): void {
    this.write('warn', message, fields);
  }

  error(message: string, fields?: Record<string, unknown>): void {
    this.write('error', message, fields);
  }

  /** Ends the attempt's stored log, with a line saying what the caps dropped, if anything. */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    // Caps of 0 turn storage off: no line at all, not even this one.
    if (this.droppedLines === 0 || this.limits.maxLines === 0 || this.limits.maxBytes === 0) return;
    const { maxLines, maxBytes } = this.limits;
    this.sink.append(
      this.row(
        'warn',
        `${this.droppedLines} log line(s) (${this.droppedBytes} bytes) of this attempt were not kept: over TASK_LOG_MAX_LINES (${maxLines}) or TASK_LOG_MAX_BYTES (${maxBytes})`,
        storableJson({ droppedLines: this.droppedLines, droppedBytes: this.droppedBytes }),
      ),
    );
  }

  private write(level: TaskLogLevel, message: string, fields?: Record<string, unknown>): void {
    if (fields && typeof fields === 'object') this.logger[level](fields, message);
    else this.logger[level](message);
    if (this.closed || this.limits.maxLines === 0 || this.limits.maxBytes === 0) return;
    const text = storableMessage(message);
    const json = fields && typeof fields === 'object' ? storableFields(fields) : null;
    const size = Buffer.byteLength(text) + (json ? Buffer.byteLength(json) : 0);
    if (this.lines >= this.limits.maxLines || this.bytes + size > this.limits.maxBytes) {
      this.droppedLines += 1;
      this.droppedBytes += size;
      return;
    }
    this.lines += 1;
    this.bytes += size;
    this.sink.append(this.row(level, text, json));
  }

  private row(level: TaskLogLevel, message: string, fields: string | null): TaskLogRow {
    return { id: uuidv7(), taskId: this.taskId, attempt: this.attempt, level, message, fields, loggedAt: new Date() };
  }
}
