import { Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { DataSource } from 'typeorm';
import { dialectOf, isRejectedData, type SqlDialect } from '@conveyor/database';
import type { TaskLogRow, TaskLogSink } from './task-log';

/** Longest a line waits in memory before its flush starts: what a `kill -9` can lose when the database keeps up. */
export const LOG_FLUSH_MS = 100;
/** A flush starts at once when this many lines wait. */
const FLUSH_AT_LINES = 500;
/** Rows per INSERT: 7 parameters each, far below both drivers' limits. */
const ROWS_PER_INSERT = 500;
/**
 * What may wait while the database is away: beyond it new lines are dropped (and counted), so
 * an outage costs bounded memory, never the worker. Task logs are a diagnostic aid, not state.
 */
export const MAX_BUFFERED_LINES = 20_000;
export const MAX_BUFFERED_BYTES = 32 * 1024 * 1024;
/** Longest the shutdown waits for the last lines while the database does not answer. */
const SHUTDOWN_FLUSH_MS = 5000;

/**
 * Writes task log lines to `task_logs` in batches, off the tasks' path: `append` only pushes to
 * an array; a timer (LOG_FLUSH_MS) or a full batch starts one flush at a time, a multi-row
 * INSERT per 500 lines on one pooled connection. Ids are made by the worker, so a flush retried
 * after a failure whose commit was unanswered inserts nothing twice (conflicts are skipped).
 * A connection failure keeps the lines and retries with backoff (bounded memory, see
 * MAX_BUFFERED_*); a batch the database refuses for its data is retried line by line and the
 * refused lines are dropped. Flushed at shutdown; a `kill -9` loses what was buffered (about
 * LOG_FLUSH_MS worth of lines, or the buffer during a database outage).
 */
@Injectable()
export class TaskLogWriter implements TaskLogSink, OnApplicationShutdown {
  private readonly logger = new Logger(TaskLogWriter.name);
  private readonly dialect: SqlDialect;
  private buffer: TaskLogRow[] = [];
  private bufferedBytes = 0;
  private flushing: Promise<void> | null = null;
  private timer: NodeJS.Timeout | undefined;
  private failures = 0;
  private closed = false;
  /** Lines dropped because the buffer was full or the database refused them (logged, for the operator). */
  dropped = 0;

  constructor(@InjectDataSource() private readonly dataSource: DataSource) {
    this.dialect = dialectOf(dataSource);
  }

  append(row: TaskLogRow): void {
    if (this.closed) return;
    const size = rowBytes(row);
    if (this.buffer.length >= MAX_BUFFERED_LINES || this.bufferedBytes + size > MAX_BUFFERED_BYTES) {
      if (this.dropped++ % 1000 === 0) this.logger.warn({ dropped: this.dropped }, 'task log buffer full (is the database away?); dropping task log lines');
      return;
    }
    this.buffer.push(row);
    this.bufferedBytes += size;
    if (this.buffer.length >= FLUSH_AT_LINES) this.flushSoon(0);
    else this.flushSoon(LOG_FLUSH_MS);
  }

  /** Lines not yet committed (tests and health). */
  get backlog(): number {
    return this.buffer.length;
  }

  /** Writes everything appended so far; resolves when committed (or given up for refused data). */
  async drain(): Promise<void> {
    while (this.buffer.length > 0 || this.flushing) {
      if (!this.flushing) this.startFlush();
      await this.flushing;
    }
  }

  async onApplicationShutdown(): Promise<void> {
    this.closed = true;
    let timer: NodeJS.Timeout | undefined;
    const limit = new Promise<'late'>((resolve) => (timer = setTimeout(() => resolve('late'), SHUTDOWN_FLUSH_MS)));
    const outcome = await Promise.race([this.drain().then(() => 'done' as const), limit]);
    clearTimeout(timer);
    clearTimeout(this.timer);
    if (outcome === 'late') this.logger.warn({ lines: this.buffer.length }, 'task log lines not written at shutdown (the database did not answer)');
  }

  private flushSoon(delayMs: number): void {
    if (this.flushing) return; // the flush in flight starts the next one when it ends
    if (delayMs === 0) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.startFlush();
      return;
    }
    this.timer ??= setTimeout(() => {
      this.timer = undefined;
      this.startFlush();
    }, delayMs);
  }

  private startFlush(): void {
    if (this.flushing || this.buffer.length === 0) return;
    const batch = this.buffer.splice(0, ROWS_PER_INSERT);
    this.bufferedBytes -= batch.reduce((sum, row) => sum + rowBytes(row), 0);
    this.flushing = this.flush(batch).finally(() => {
      this.flushing = null;
      if (this.buffer.length >= FLUSH_AT_LINES || (this.closed && this.buffer.length > 0)) this.startFlush();
      else if (this.buffer.length > 0) this.flushSoon(LOG_FLUSH_MS);
    });
  }

  private async flush(batch: TaskLogRow[]): Promise<void> {
    try {
      await this.insert(batch);
      this.failures = 0;
    } catch (error) {
      if (isRejectedData(error)) return this.oneByOne(batch, error);
      this.failures += 1;
      // Back in front, in order; bounded by what append() lets in.
      this.buffer.unshift(...batch);
      this.bufferedBytes += batch.reduce((sum, row) => sum + rowBytes(row), 0);
      const delay = Math.min(100 * 2 ** Math.min(this.failures, 6), 5000);
      this.logger.error({ err: error, lines: batch.length, retryInMs: delay }, 'task log write failed; keeping the lines and retrying');
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }

  /** The database refused something in the batch: keep every line it takes, drop the others. */
  private async oneByOne(batch: TaskLogRow[], error: unknown): Promise<void> {
    this.logger.warn({ err: error, lines: batch.length }, 'the database refused a batch of task log lines; writing them one by one');
    for (const [index, row] of batch.entries()) {
      try {
        await this.insert([row]);
      } catch (rowError) {
        if (!isRejectedData(rowError)) {
          // The connection went meanwhile: the rest waits for the next flush.
          this.buffer.unshift(...batch.slice(index));
          this.bufferedBytes += batch.slice(index).reduce((sum, rest) => sum + rowBytes(rest), 0);
          return;
        }
        this.dropped += 1;
        this.logger.error({ err: rowError, taskId: row.taskId }, 'the database refused a task log line; dropped');
      }
    }
  }

  private insert(rows: TaskLogRow[]): Promise<unknown> {
    const params: unknown[] = [];
    const postgres = this.dialect === 'postgres';
    const tuples = rows.map((row) => {
      params.push(row.id, row.taskId, row.attempt, row.level, row.message, row.fields, row.loggedAt);
      if (!postgres) return '(?, ?, ?, ?, ?, ?, ?)';
      const n = params.length - 7;
      return `($${n + 1}::uuid, $${n + 2}::uuid, $${n + 3}::int, $${n + 4}, $${n + 5}, $${n + 6}::jsonb, $${n + 7}::timestamptz)`;
    });
    const columns = postgres
      ? '(id, task_id, attempt, level, message, fields, logged_at)'
      : '(`id`, `task_id`, `attempt`, `level`, `message`, `fields`, `logged_at`)';
    const sql = postgres
      ? `INSERT INTO task_logs ${columns} VALUES ${tuples.join(', ')} ON CONFLICT (task_id, id) DO NOTHING`
      : `INSERT INTO task_logs ${columns} VALUES ${tuples.join(', ')} ON DUPLICATE KEY UPDATE \`id\` = \`id\``;
    return this.dataSource.query(sql, params);
  }
}

function rowBytes(row: TaskLogRow): number {
  // Characters, not bytes: a cheap bound of the memory held (message and fields are capped per line).
  return 200 + row.message.length * 2 + (row.fields?.length ?? 0) * 2;
}
