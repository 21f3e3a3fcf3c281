import { Inject, Injectable, Logger, Optional, type OnApplicationShutdown } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import { In, type DataSource, type EntityManager } from 'typeorm';
import { dialectOf, isRejectedData, type SqlDialect } from '@conveyor/database';
import { captureTrace, inSharedSpan, TaskMetrics, type CapturedTrace } from '@conveyor/observability';
import { noCommitEffects, type CommitEffects } from '../flows/commit-effects';
import { FlowSettler, type FlowParentRef } from '../flows/flow-settler';
import { TaskChangeFeed } from '../task-change-feed';
import { isTerminal, type TaskError, type TaskProgress, type TaskStatus } from '../ledger/task-status';
import { storableJson } from '../ledger/storable-json';
import { ROWS_PER_STATEMENT, taskInsertStatement } from '../ledger/task-insert';
import { TaskEntity } from '../ledger/task.entity';
import { TASK_TRANSITION_HOOKS, type TaskTransition, type TaskTransitionHooks } from '../ledger/task-transition-hooks';

/** The columns a worker changes while it runs a task. */
export interface TaskStatePatch {
  status?: TaskStatus;
  attempts?: number;
  result?: unknown;
  error?: TaskError | null;
  progress?: TaskProgress | null;
  startedAt?: Date;
  finishedAt?: Date | null;
  /** A `retrying` task's next attempt (see afterFailure). */
  scheduledFor?: Date | null;
  workerId?: string;
}

type PatchKey = keyof TaskStatePatch;

const COLUMNS: Record<PatchKey, { column: string; kind: 'text' | 'int' | 'json' | 'time' }> = {
  status: { column: 'status', kind: 'text' },
  attempts: { column: 'attempts', kind: 'int' },
  result: { column: 'result', kind: 'json' },
  error: { column: 'error', kind: 'json' },
  progress: { column: 'progress', kind: 'json' },
  startedAt: { column: 'started_at', kind: 'time' },
  finishedAt: { column: 'finished_at', kind: 'time' },
  scheduledFor: { column: 'scheduled_for', kind: 'time' },
  workerId: { column: 'worker_id', kind: 'text' },
};

const PG_CAST = { text: 'varchar', int: 'int', json: 'jsonb', time: 'timestamptz' } as const;

/**
 * Longest a change queued with `writeSoon` waits for company before it is flushed on its own.
 * A task's "active" change waits like this, so a quick task's "active" and "completed" become
 * one row change in one flush instead of two flushes one after the other.
 */
export const SOON_FLUSH_MS = 20;

/** Rows per statement: keeps parameter counts far below both drivers' limits. */
const MAX_ROWS_PER_STATEMENT = 500;

/**
 * Flushes in flight at once, each on its own pooled connection (at most half the pool, so
 * maintenance and health checks always find one).
 */
const MAX_CONCURRENT_FLUSHES = 4;

/** How a change relates to the rest of the ledger. */
export interface WriteOptions {
  /** The task is a node of a flow: when it ends, this parent is settled in the same transaction. */
  flowParent?: FlowParentRef;
  /** The task's tenant and type, when the caller knows them: transition hooks decide from memory with them. */
  subject?: TaskSubject;
}

/** Who a change is about (see WriteOptions.subject). */
export type TaskSubject = Omit<TaskTransition, 'taskId' | 'status'>;

interface PendingWrite {
  patch: TaskStatePatch;
  updatedAt: Date;
  /** Resolved, once committed, with what the commit left to do in Redis. */
  waiters: Array<(effects: CommitEffects) => void>;
  /** Rows to insert with this (completing) change, in the same transaction. */
  followUps?: TaskEntity[];
  flowParent?: FlowParentRef;
  subject?: TaskSubject;
  /** After the commit: what this task's change left to do (follow-ups to queue, flow changes). */
  effects?: CommitEffects;
  /** Set once the database refused this change and it was cut down to its plain columns. */
  degraded?: boolean;
  /** The trace of the first change queued: the flush that commits it is traced there (inSharedSpan). */
  trace: CapturedTrace;
}

/** A value that cannot become JSON text (a BigInt, a cycle, a function): the data's fault, like a database refusal. */
class UnstorableValueError extends Error {}

/**
 * The change that still fits when the database refused the real one (a result or progress it
 * cannot store): plain columns only, and an error that says what was lost. A completed task is
 * recorded failed: its result is gone, and a client must not read "completed" with nothing.
 */
function degradedPatch(patch: TaskStatePatch, reason: string): TaskStatePatch | null {
  const { result: _result, progress: _progress, error: _error, ...plain } = patch;
  // A progress report alone is not worth an error on a running task.
  if (Object.keys(plain).length === 0 && _error === undefined) return null;
  return {
    ...plain,
    ...(plain.status === 'completed' ? { status: 'failed' as const, result: null } : {}),
    error: { code: 'LEDGER_WRITE_REJECTED', message: `the ledger refused this task's state (${reason.slice(0, 500)}); its result and progress were dropped` },
  };
}

/**
 * Group-commits worker state changes to the ledger.
 *
 * A write is queued in memory and merged with any other pending write of the same task; a
 * flush takes everything queued so far, so under load many tasks' changes share one multi-row
 * UPDATE per shape (one statement for all "completed" rows, one for all "active" rows, …)
 * instead of one round trip each. When idle, a write is flushed at once, so latency stays low.
 * Up to MAX_CONCURRENT_FLUSHES flushes run at once (pipelining: a task finishing while a flush
 * is under way does not wait for it to end before its own change is sent; with one flush at a
 * time the worker spent most of its time waiting on the ledger). Order per task holds: a task
 * whose change is in a flush in flight keeps its newer changes queued until that flush ends.
 * `write()` resolves once the change is committed: processors await terminal states before
 * acknowledging the job to BullMQ, so a crash never leaves a job done in Redis but unrecorded
 * in SQL. A flush that fails for the connection's sake keeps its writes and retries with
 * backoff. One the database refuses for the data it carries would fail the same way forever
 * and hold every task of the batch with it, so its tasks are then written one per flush until
 * they commit; a task refused alone is cut down to its plain columns (LEDGER_WRITE_REJECTED),
 * and if even that is refused its change is dropped and logged, never left to block the worker.
 * A cancelled task is final for workers: their writes never overwrite `cancelled` (a retry
 * through the API moves it to `queued` first).
 */
@Injectable()
export class TaskStateWriter implements OnApplicationShutdown {
  private readonly logger = new Logger(TaskStateWriter.name);
  private readonly dialect: SqlDialect;
  private readonly maxFlushes: number;
  private pending = new Map<string, PendingWrite>();
  /** Ids of the tasks whose change is in a flush in flight. */
  private readonly inFlight = new Set<string>();
  private flushes = 0;
  private flushScheduled = false;
  private soonTimer: NodeJS.Timeout | undefined;
  /** Called whenever a flush ends (drain() re-checks then). */
  private flushEnded: Array<() => void> = [];
  private closed = false;
  private failures = 0;
  /** Tasks of a batch the database refused: flushed alone until one of their writes commits. */
  private readonly suspects = new Set<string>();

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    private readonly flows: FlowSettler,
    @Optional() private readonly feed?: TaskChangeFeed,
    @Optional() @Inject(TASK_TRANSITION_HOOKS) private readonly hooks?: TaskTransitionHooks,
    @Optional() private readonly metrics?: TaskMetrics,
  ) {
    this.dialect = dialectOf(dataSource);
    metrics?.onLedgerBacklogScrape(() => this.backlog);
    const extra = (dataSource.options as { extra?: { max?: number; connectionLimit?: number } }).extra;
    const poolSize = extra?.max ?? extra?.connectionLimit ?? 10;
    this.maxFlushes = Math.max(1, Math.min(MAX_CONCURRENT_FLUSHES, Math.floor(poolSize / 2)));
  }

  /**
   * Queues a change and flushes it at once (or with the flush about to start); resolves when
   * committed, with what the commit left to do in Redis (a flow parent it released, nodes it
   * cancelled) for the caller to carry out (CommitEffectsRelay).
   */
  write(taskId: string, change: TaskStatePatch, options: WriteOptions = {}): Promise<CommitEffects> {
    const committed = this.queue(taskId, change, options);
    this.scheduleFlush();
    return committed;
  }

  /**
   * Records a completion together with the follow-ups its handler asked for, in one
   * transaction: the ledger is the outbox. The rows are inserted only if the task really is
   * completed after the change (not if it was cancelled meanwhile), and a row a unique index
   * already holds is skipped: a re-run of the task (its worker died after this commit, before
   * BullMQ heard of the end) writes the same follow-ups again and creates none. Resolves, once
   * committed, with every follow-up of the task still waiting for its job (those just written,
   * or those of an earlier run that were never queued), for the caller to queue.
   */
  writeCompletion(taskId: string, change: TaskStatePatch, followUps: TaskEntity[], options: WriteOptions = {}): Promise<CommitEffects> {
    const committed = this.queue(taskId, change, { ...options, followUps });
    this.scheduleFlush();
    return committed;
  }

  /**
   * Queues a change that may wait up to SOON_FLUSH_MS for the next flush (a running task's
   * "active" or progress): it rides along with other changes instead of costing a flush of
   * its own. Resolves when committed.
   */
  writeSoon(taskId: string, change: TaskStatePatch): Promise<void> {
    const committed = this.queue(taskId, change);
    this.soonTimer ??= setTimeout(() => {
      this.soonTimer = undefined;
      this.scheduleFlush();
    }, SOON_FLUSH_MS);
    return committed.then(() => undefined);
  }

  private queue(taskId: string, change: TaskStatePatch, options: WriteOptions & { followUps?: TaskEntity[] } = {}): Promise<CommitEffects> {
    const { followUps, flowParent, subject } = options;
    // An undefined field means "not changed"; only explicit nulls clear a column.
    const patch: TaskStatePatch = {};
    for (const key in change) {
      const value = change[key as PatchKey];
      if (value !== undefined) (patch as Record<string, unknown>)[key] = value;
    }
    if (this.closed) return Promise.reject(new Error('the ledger writer is closed (the process is shutting down)'));
    return new Promise<CommitEffects>((resolve) => {
      const existing = this.pending.get(taskId);
      if (existing) {
        Object.assign(existing.patch, patch);
        existing.updatedAt = new Date();
        existing.waiters.push(resolve);
        if (followUps) existing.followUps = followUps;
        if (flowParent) existing.flowParent = flowParent;
        existing.subject ??= subject;
      } else {
        this.pending.set(taskId, {
          patch,
          updatedAt: new Date(),
          waiters: [resolve],
          trace: captureTrace(),
          ...(followUps ? { followUps } : {}),
          ...(flowParent ? { flowParent } : {}),
          ...(subject ? { subject } : {}),
        });
      }
    });
  }

  /** Number of changes not yet committed (exposed for health and tests). */
  get backlog(): number {
    return this.pending.size + this.inFlight.size;
  }

  /** Flushes failed for the connection in a row (0 once one commits): the ledger is out of reach. */
  get failingFlushes(): number {
    return this.failures;
  }

  /** Waits until everything queued so far is committed. */
  async drain(): Promise<void> {
    while (this.flushes > 0 || this.pending.size > 0) {
      this.scheduleFlush();
      await new Promise<void>((resolve) => this.flushEnded.push(resolve));
    }
  }

  async onApplicationShutdown(): Promise<void> {
    await this.drain();
    this.closed = true;
    clearTimeout(this.soonTimer);
  }

  private scheduleFlush(): void {
    if (this.flushScheduled || this.flushes >= this.maxFlushes || this.pending.size === 0) return;
    this.flushScheduled = true;
    // Yield once so writes issued in the same tick join this batch.
    setImmediate(() => {
      this.flushScheduled = false;
      this.startFlush();
    });
  }

  private startFlush(): void {
    if (this.flushes >= this.maxFlushes) return;
    // Everything queued, except tasks with a change still in flight (their order comes first).
    const batch = new Map<string, PendingWrite>();
    for (const [id, write] of this.pending) {
      if (this.inFlight.has(id)) continue;
      if (!this.suspects.has(id)) batch.set(id, write);
      else if (batch.size === 0) {
        // A suspect goes alone; the others wait for the next flush, scheduled below.
        batch.set(id, write);
        break;
      }
    }
    if (batch.size === 0) return; // the flush in flight reschedules when it ends
    for (const id of batch.keys()) {
      this.pending.delete(id);
      this.inFlight.add(id);
    }
    this.flushes += 1;
    void this.flushBatch(batch);
    // Room for another flush and writes it may take right away (tasks held back above wait).
    this.scheduleFlush();
  }

  private async flushBatch(batch: Map<string, PendingWrite>): Promise<void> {
    let committed = false;
    try {
      // One transaction for many tasks' changes: one span, in the first one's trace, linked to the others'.
      const traces = [...batch.values()].map((write) => write.trace);
      await inSharedSpan(
        'ledger write',
        traces,
        () => ({ 'db.system.name': this.dialect === 'postgres' ? 'postgresql' : 'mysql', 'conveyor.ledger.changes': batch.size }),
        () => this.flush(batch),
      );
      this.failures = 0;
      committed = true;
    } catch (error) {
      const rejected = error instanceof UnstorableValueError || isRejectedData(error);
      this.metrics?.ledgerWriteFailed(rejected ? 'rejected' : 'connection');
      if (rejected) this.refused(batch, error);
      else await this.keepForRetry(batch, error);
    }
    // Bookkeeping before anyone hears of the commit, so `backlog` no longer counts these.
    for (const id of batch.keys()) this.inFlight.delete(id);
    this.flushes -= 1;
    if (committed) {
      // Announced before anyone hears of the commit: a stream reading the row then sees it.
      this.feed?.publish(batch.keys());
      for (const [id, write] of batch) {
        this.suspects.delete(id);
        const effects = write.effects ?? noCommitEffects();
        write.effects = undefined;
        // Every waiter hears of the effects, but only one may carry them out.
        write.waiters.forEach((resolve, index) => resolve(index === write.waiters.length - 1 ? effects : noCommitEffects()));
      }
    }
    for (const notify of this.flushEnded.splice(0)) notify();
    this.scheduleFlush();
  }

  /** The connection failed, not the data: put the batch back and back off; nothing is dropped. */
  private async keepForRetry(batch: Map<string, PendingWrite>, error: unknown): Promise<void> {
    this.failures += 1;
    this.requeue(batch);
    const delay = Math.min(100 * 2 ** Math.min(this.failures, 6), 5000);
    this.logger.error({ err: error, rows: batch.size, retryInMs: delay }, 'ledger write failed; keeping the changes and retrying');
    // The batch's tasks stay "in flight" during the back-off, so no newer change of theirs
    // overtakes it.
    await new Promise((resolve) => setTimeout(resolve, delay));
  }

  /** The database refused the data: find the task(s) at fault instead of retrying the same batch. */
  private refused(batch: Map<string, PendingWrite>, error: unknown): void {
    const reason = error instanceof Error ? error.message : String(error);
    if (batch.size > 1) {
      for (const id of batch.keys()) this.suspects.add(id);
      this.requeue(batch);
      this.logger.warn({ err: error, rows: batch.size }, 'the ledger refused a batched write; writing its tasks one by one');
      return;
    }
    const [[taskId, write]] = batch;
    this.requeue(batch);
    const merged = this.pending.get(taskId) as PendingWrite;
    const degraded = write.degraded ? null : degradedPatch(merged.patch, reason);
    if (degraded) {
      merged.patch = degraded;
      merged.degraded = true;
      // The task is recorded failed: it has no follow-ups.
      merged.followUps = undefined;
      this.logger.error({ err: error, taskId }, "the ledger refused a task's state; storing it without result and progress");
      return;
    }
    this.pending.delete(taskId);
    this.suspects.delete(taskId);
    this.logger.error(
      { err: error, taskId, change: Object.keys(merged.patch) },
      write.degraded ? "the ledger refused a task's state even without result and progress; change dropped" : 'the ledger refused a progress report; dropped',
    );
    for (const resolve of merged.waiters) resolve(noCommitEffects());
  }

  /** Puts a batch back under anything newer queued for its tasks meanwhile. */
  private requeue(batch: Map<string, PendingWrite>): void {
    for (const [id, write] of batch) {
      const newer = this.pending.get(id);
      if (newer) {
        write.patch = { ...write.patch, ...newer.patch };
        write.updatedAt = newer.updatedAt;
        write.waiters.push(...newer.waiters);
        write.followUps = newer.followUps ?? write.followUps;
        write.flowParent = newer.flowParent ?? write.flowParent;
        write.subject ??= newer.subject;
      }
      this.pending.set(id, write);
    }
  }

  private async flush(batch: Map<string, PendingWrite>): Promise<void> {
    const statements = this.updateStatements(batch);
    // One pass: the completions carrying follow-ups, and the flow nodes that end here.
    const parents: Array<[string, PendingWrite]> = [];
    const flowNodes: Array<[string, PendingWrite]> = [];
    for (const entry of batch) {
      const [, write] = entry;
      if (write.followUps?.length) parents.push(entry);
      if (write.flowParent && write.patch.status && isTerminal(write.patch.status)) flowNodes.push(entry);
    }
    const transitions = this.hookedTransitions(batch);
    if (parents.length === 0 && flowNodes.length === 0 && transitions.length === 0) {
      // Plain state changes: each statement stands alone (an UPDATE per shape, no transaction).
      for (const { sql, params } of statements) await this.dataSource.query(sql, params);
      return;
    }
    // A completion with follow-ups, or a flow node that ended: the changes, the new rows and
    // what they do to the flow commit together or not at all. READ COMMITTED: a flow parent's
    // children are counted after its row lock is taken, and must be seen as committed then.
    await this.dataSource.transaction('READ COMMITTED', async (manager) => {
      for (const { sql, params } of statements) await manager.query(sql, params);
      for (const [, write] of [...parents, ...flowNodes]) write.effects = noCommitEffects();
      if (parents.length > 0) {
        const queueable = await this.insertFollowUps(manager, parents);
        for (const [id, write] of parents) write.effects!.queue.push(...queueable.filter((row) => row.parentId === id));
      }
      // The flow's changes are credited to the batch's first flow node: one set of effects.
      if (flowNodes.length > 0)
        await this.flows.settle(
          manager,
          flowNodes.map(([, write]) => write.flowParent!),
          flowNodes[0][1].effects!,
        );
      if (transitions.length > 0) await this.hooks!.record(manager, transitions);
    });
  }

  /** The status changes of the batch a transition hook asked for (decided from memory: no hook, no cost). */
  private hookedTransitions(batch: Map<string, PendingWrite>): TaskTransition[] {
    if (!this.hooks) return [];
    const transitions: TaskTransition[] = [];
    for (const [taskId, { patch, subject }] of batch) {
      if (!patch.status) continue;
      const transition = { taskId, status: patch.status, ...subject };
      if (this.hooks.wants(transition)) transitions.push(transition);
    }
    return transitions;
  }

  /** Inserts the follow-ups of the tasks now completed; returns every follow-up of theirs still waiting for a job. */
  private async insertFollowUps(manager: EntityManager, parents: Array<[string, PendingWrite]>): Promise<TaskEntity[]> {
    const tasks = manager.getRepository(TaskEntity);
    const ids = parents.map(([id]) => id);
    // A task cancelled meanwhile kept its status (the UPDATE skips it): no follow-ups for it.
    const completed = new Set((await tasks.find({ select: { id: true }, where: { id: In(ids), status: 'completed' } })).map((row) => row.id));
    const rows = parents.filter(([id]) => completed.has(id)).flatMap(([, write]) => write.followUps!);
    for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
      const { sql, params } = taskInsertStatement(this.dataSource, rows.slice(i, i + ROWS_PER_STATEMENT), { ignoreDuplicates: true });
      await manager.query(sql, params);
    }
    if (completed.size === 0) return [];
    return tasks.find({ where: { parentId: In([...completed]), status: In(['queued', 'scheduled']) }, order: { id: 'ASC' } });
  }

  private updateStatements(batch: Map<string, PendingWrite>): Array<{ sql: string; params: unknown[] }> {
    // Group rows by the set of columns they change: one statement per shape.
    const groups = new Map<string, Array<[string, PendingWrite]>>();
    for (const entry of batch) {
      const shape = (Object.keys(entry[1].patch) as PatchKey[]).sort().join(',');
      const group = groups.get(shape);
      if (group) group.push(entry);
      else groups.set(shape, [entry]);
    }
    const statements: Array<{ sql: string; params: unknown[] }> = [];
    for (const [shape, rows] of groups) {
      const keys = (shape ? shape.split(',') : []) as PatchKey[];
      for (let i = 0; i < rows.length; i += MAX_ROWS_PER_STATEMENT) {
        const chunk = rows.slice(i, i + MAX_ROWS_PER_STATEMENT);
        statements.push(this.dialect === 'postgres' ? this.postgresUpdate(keys, chunk) : this.mysqlUpdate(keys, chunk));
      }
    }
    return statements;
  }

  private value(key: PatchKey, patch: TaskStatePatch): unknown {
    const value = patch[key];
    if (value === undefined || value === null) return null;
    if (COLUMNS[key].kind !== 'json') return value;
    try {
      return storableJson(value);
    } catch (error) {
      throw new UnstorableValueError(`${key} cannot be stored as JSON: ${error instanceof Error ? error.message : String(error)}`);
    }
  }

  private postgresUpdate(keys: PatchKey[], rows: Array<[string, PendingWrite]>) {
    const params: unknown[] = [];
    const tuples = rows.map(([id, write]) => {
      params.push(id, write.updatedAt);
      const cells = [`$${params.length - 1}::uuid`, `$${params.length}::timestamptz`];
      for (const key of keys) {
        params.push(this.value(key, write.patch));
        cells.push(`$${params.length}::${PG_CAST[COLUMNS[key].kind]}`);
      }
      return `(${cells.join(', ')})`;
    });
    const names = ['id', 'updated_at', ...keys.map((k) => COLUMNS[k].column)];
    const sets = names.slice(1).map((column) => `"${column}" = v."${column}"`);
    if (keys.includes('finishedAt')) sets.push(durationSet('postgres', keys));
    const sql =
      `UPDATE tasks AS t SET ${sets.join(', ')} ` +
      `FROM (VALUES ${tuples.join(', ')}) AS v(${names.map((n) => `"${n}"`).join(', ')}) ` +
      `WHERE t.id = v.id AND t.status <> 'cancelled'`;
    return { sql, params };
  }

  private mysqlUpdate(keys: PatchKey[], rows: Array<[string, PendingWrite]>) {
    const params: unknown[] = [];
    const names = ['id', 'updated_at', ...keys.map((k) => COLUMNS[k].column)];
    const selects = rows.map(([id, write], index) => {
      params.push(id, write.updatedAt, ...keys.map((key) => this.value(key, write.patch)));
      // Column aliases on the first SELECT name the derived table's columns.
      const cells = names.map((name) => (index === 0 ? `? AS \`${name}\`` : '?'));
      return `SELECT ${cells.join(', ')}`;
    });
    const sets = names.slice(1).map((column) => `t.\`${column}\` = v.\`${column}\``);
    if (keys.includes('finishedAt')) sets.push(durationSet('mysql', keys));
    const sql = `UPDATE tasks AS t JOIN (${selects.join(' UNION ALL ')}) AS v ON t.id = v.id ` + `SET ${sets.join(', ')} WHERE t.status <> 'cancelled'`;
    return { sql, params };
  }
}

/**
 * `duration_ms` follows `finished_at` in the same UPDATE (finished_at − started_at, NULL while
 * either is NULL), so list queries can sort by run time; rows older than the column get it from
 * the `tasks.duration-ms` background migration.
 */
function durationSet(dialect: SqlDialect, keys: PatchKey[]): string {
  if (dialect === 'postgres') {
    const start = keys.includes('startedAt') ? 'COALESCE(v."started_at", t."started_at")' : 't."started_at"';
    return `"duration_ms" = CAST(ROUND(EXTRACT(EPOCH FROM (v."finished_at" - ${start})) * 1000) AS bigint)`;
  }
  const start = keys.includes('startedAt') ? 'COALESCE(v.`started_at`, t.`started_at`)' : 't.`started_at`';
  return `t.\`duration_ms\` = TIMESTAMPDIFF(MICROSECOND, ${start}, v.\`finished_at\`) DIV 1000`;
}
