import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import { Brackets, In, type EntityManager, type QueryDeepPartialEntity, type Repository } from 'typeorm';

import { dialectOf, isDatabaseUnavailable, isTransactionConflict } from '@conveyor/database';
import { captureTrace, inSharedSpan, type CapturedTrace } from '@conveyor/observability';
import { ROWS_PER_STATEMENT, taskInsertStatement } from './task-insert';
import { applySearchTerms, errorCodeSql, type TaskSearchTerms } from './task-search';
import { TaskEntity } from './task.entity';
import type { TaskError, TaskStatus } from './task-status';

export interface TaskListFilter extends TaskSearchTerms {
  /** One tenant, or several (an admin reads the system tenant's too). */
  tenantId: string | readonly string[];
  type?: string;
  status?: TaskStatus;
  tag?: string;
  parentId?: string;
  rootId?: string;
  scheduleId?: string;
  /** Exclusive upper bound on id: the last id of the previous page. */
  before?: string;
  limit: number;
}

/** Failed tasks of one type and error code (`errorCode` null: failed without a code). */
export interface FailureGroup {
  type: string;
  errorCode: string | null;
  count: number;
  /** The newest task of the group. */
  latestId: string;
}

/**
 * The database stopped answering after COMMIT was sent: the rows may exist. The one case in
 * which a refused enqueue cannot promise "nothing was stored"; a retry with the same
 * idempotency key settles it.
 */
export class LedgerOutcomeUnknownError extends Error {
  constructor(cause: unknown) {
    super('the database did not confirm the commit', { cause });
  }
}

/** Times a transaction the database aborted for a deadlock is run again before giving up. */
const CONFLICT_RETRIES = 3;

/** Shared INSERTs in flight at once (see insertShared); the rest of the pool stays free. */
const MAX_SHARED_INSERTS = 2;
/** The shape of a ledger id; anything else can only be a client-chosen id. */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;

interface QueuedInsert {
  rows: TaskEntity[];
  /** The caller's trace: the shared INSERT is traced in it (see inSharedSpan). */
  trace: CapturedTrace;
  resolve: () => void;
  reject: (error: unknown) => void;
}

/** Reads and inserts ledger rows. Every query is scoped to a tenant. */
@Injectable()
export class TaskLedgerService {
  private readonly queuedInserts: QueuedInsert[] = [];
  private sharedInsertsInFlight = 0;

  constructor(@InjectRepository(TaskEntity) private readonly tasks: Repository<TaskEntity>) {}

  /**
   * `insert` for concurrent requests: rows queued while a shared INSERT is in flight go out
   * together in the next one, so under load many requests cost one round trip and one commit,
   * and when idle a request waits for nothing. Every caller keeps its own outcome: if a shared
   * INSERT fails, each caller's rows are inserted again on their own, so one caller's refused
   * row (e.g. an idempotency key a concurrent request took) fails that caller only.
   */
  insertShared(rows: TaskEntity[]): Promise<void> {
    if (rows.length === 0) return Promise.resolve();
    if (rows.length >= ROWS_PER_STATEMENT) return this.insert(rows);
    return new Promise<void>((resolve, reject) => {
      this.queuedInserts.push({ rows, resolve, reject, trace: captureTrace() });
      this.startSharedInserts();
    });
  }

  private startSharedInserts(): void {
    while (this.sharedInsertsInFlight < MAX_SHARED_INSERTS && this.queuedInserts.length > 0) {
      // One statement's worth, so a shared INSERT is atomic.
      const group = [this.queuedInserts.shift()!];
      let count = group[0].rows.length;
      while (this.queuedInserts.length > 0 && count + this.queuedInserts[0].rows.length <= ROWS_PER_STATEMENT) {
        const next = this.queuedInserts.shift()!;
        group.push(next);
        count += next.rows.length;
      }
      this.sharedInsertsInFlight += 1;
      void this.runSharedInsert(group).finally(() => {
        this.sharedInsertsInFlight -= 1;
        this.startSharedInserts();
      });
    }
  }

  private async runSharedInsert(group: QueuedInsert[]): Promise<void> {
    try {
      const rows = group.flatMap((queued) => queued.rows);
      const attributes = () => ({
        'db.system.name': dialectOf(this.tasks.manager.connection) === 'postgres' ? 'postgresql' : 'mysql',
        'conveyor.ledger.rows': rows.length,
      });
      await inSharedSpan(
        'ledger insert',
        group.map((queued) => queued.trace),
        attributes,
        () => this.insert(rows),
      );
      for (const queued of group) queued.resolve();
    } catch (error) {
      // Alone, or the database is away (each retry would wait out the same timeout): as is.
      if (group.length === 1 || isDatabaseUnavailable(error) || error instanceof LedgerOutcomeUnknownError) {
        for (const queued of group) queued.reject(error);
        return;
      }
      await Promise.all(group.map((queued) => this.insert(queued.rows).then(queued.resolve, queued.reject)));
    }
  }

  /**
   * One multi-row INSERT per 500 rows (a 1000-task batch stays under parameter limits), always
   * in a transaction, so a batch is stored whole or not at all, and so an INSERT the caller gave
   * up on (the database froze and the request got 503) can never commit later: the connection
   * is dropped before COMMIT is sent, and the server rolls the transaction back. An autocommit
   * INSERT would run and commit whenever the frozen server woke up, leaving a row the client
   * was told was refused, which the reconciler would then run.
   */
  async insert(rows: TaskEntity[]): Promise<void> {
    if (rows.length === 0) return;
    const runner = this.tasks.manager.connection.createQueryRunner();
    try {
      await runner.startTransaction();
      try {
        for (let i = 0; i < rows.length; i += ROWS_PER_STATEMENT) {
          const { sql, params } = taskInsertStatement(this.tasks.manager.connection, rows.slice(i, i + ROWS_PER_STATEMENT));
          await runner.query(sql, params);
        }
      } catch (error) {
        await runner.rollbackTransaction().catch(() => undefined);
        throw error;
      }
      try {
        await runner.commitTransaction();
      } catch (error) {
        // COMMIT went out and no answer came back: the rows may or may not exist.
        if (isDatabaseUnavailable(error)) throw new LedgerOutcomeUnknownError(error);
        throw error;
      }
    } finally {
      await runner.release();
    }
  }

  /**
   * Runs `work` in a READ COMMITTED transaction (what the flow rules need: see FlowSettler), run
   * again from the start if the database aborts it to break a deadlock.
   */
  async inTransaction<T>(work: (manager: EntityManager) => Promise<T>): Promise<T> {
    for (let attempt = 1; ; attempt += 1) {
      try {
        return await this.tasks.manager.transaction('READ COMMITTED', work);
      } catch (error) {
        if (attempt >= CONFLICT_RETRIES || !isTransactionConflict(error)) throw error;
      }
    }
  }

  /** The rows of a flow (and of its nodes' follow-ups), in id order: the flow's order; at most `limit`. */
  findFlow(tenantId: string, rootId: string, limit: number): Promise<TaskEntity[]> {
    return this.tasks.find({ where: { tenantId, rootId }, order: { id: 'ASC' }, take: limit });
  }

  /**
   * Like findFlow, with the root itself even when it carries no rootId (a chain of follow-ups
   * starts at a plain task): the tree a task belongs to, in one query.
   */
  findTree(tenantId: string, rootId: string, limit: number): Promise<TaskEntity[]> {
    return this.tasks.find({
      where: [
        { tenantId, rootId },
        { tenantId, id: rootId },
      ],
      order: { id: 'ASC' },
      take: limit,
    });
  }

  findOne(tenantId: string | readonly string[], id: string): Promise<TaskEntity | null> {
    return this.tasks.findOneBy({ tenantId: typeof tenantId === 'string' ? tenantId : In([...tenantId]), id });
  }

  /** These tasks of one tenant (those that exist). */
  findMany(tenantId: string, ids: readonly string[]): Promise<TaskEntity[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.tasks.findBy({ tenantId, id: In([...ids]) });
  }

  findByIdempotencyKeys(tenantId: string, keys: string[]): Promise<TaskEntity[]> {
    if (keys.length === 0) return Promise.resolve([]);
    return this.tasks.findBy({ tenantId, idempotencyKey: In(keys) });
  }

  /** Tasks of a tenant by the ids their clients chose. */
  findByClientIds(tenantId: string, clientIds: string[]): Promise<TaskEntity[]> {
    if (clientIds.length === 0) return Promise.resolve([]);
    return this.tasks.findBy({ tenantId, clientId: In(clientIds) });
  }

  /** A task by its ledger id or, failing that, by the id its client chose (one of `tenants`). */
  async findByAnyId(tenants: string | readonly string[], id: string): Promise<TaskEntity | null> {
    const tenantId = typeof tenants === 'string' ? tenants : In([...tenants]);
    if (UUID.test(id)) {
      const task = await this.tasks.findOneBy({ tenantId, id });
      if (task) return task;
    }
    return this.tasks.findOneBy({ tenantId, clientId: id });
  }

  /**
   * Moves a task to a terminal state only if it is still in one of `from`; returns whether it
   * did. The condition makes concurrent cancels, retries and worker writes safe without locks.
   * With `manager`, it runs in that transaction.
   */
  async transition(
    tenantId: string,
    id: string,
    from: readonly TaskStatus[],
    change: { status: TaskStatus; error?: TaskError | null; finishedAt?: Date | null; maxAttempts?: number },
    manager?: EntityManager,
  ): Promise<boolean> {
    const reset = change.status === 'queued' ? { result: null, progress: null, startedAt: null, workerId: null } : {};
    const result = await (manager?.getRepository(TaskEntity) ?? this.tasks)
      .createQueryBuilder()
      .update(TaskEntity)
      .set({ ...reset, ...change, updatedAt: new Date() } as QueryDeepPartialEntity<TaskEntity>)
      .where('id = :id AND tenant_id = :tenantId', { id, tenantId })
      .andWhere('status IN (:...from)', { from })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  /** Sets the priority of a task still in one of `from`; returns whether it was. */
  async changePriority(tenantId: string, id: string, from: readonly TaskStatus[], priority: number): Promise<boolean> {
    const result = await this.tasks
      .createQueryBuilder()
      .update(TaskEntity)
      .set({ priority, updatedAt: new Date() })
      .where('id = :id AND tenant_id = :tenantId', { id, tenantId })
      .andWhere('status IN (:...from)', { from })
      .execute();
    return (result.affected ?? 0) > 0;
  }

  /**
   * Removes rows whose job never reached Redis: the request is answered 503, so the task
   * was never accepted and must not linger as if it had been.
   */
  async removeNotEnqueued(tenantId: string, ids: string[]): Promise<void> {
    if (ids.length === 0) return;
    await this.tasks.createQueryBuilder().delete().from(TaskEntity).where('tenant_id = :tenantId', { tenantId }).andWhereInIds(ids).execute();
  }

  /**
   * A schedule's unfinished tasks: how many are running (`active`) and how many wait for a run
   * (queued, scheduled, retrying). What the schedule overlap policies decide on.
   */
  async scheduleBacklog(scheduleId: string): Promise<{ running: number; waiting: number }> {
    const rows: Array<{ status: TaskStatus; count: string | number }> = await this.tasks
      .createQueryBuilder('t')
      .select('t.status', 'status')
      .addSelect('COUNT(*)', 'count')
      .where('t.scheduleId = :scheduleId', { scheduleId })
      .andWhere('t.status IN (:...unfinished)', { unfinished: ['queued', 'scheduled', 'retrying', 'active'] })
      .groupBy('t.status')
      .getRawMany();
    let running = 0;
    let waiting = 0;
    for (const row of rows) {
      if (row.status === 'active') running += Number(row.count);
      else waiting += Number(row.count);
    }
    return { running, waiting };
  }

  /** Newest first, keyset paging on the time-ordered id. */
  async list(filter: TaskListFilter): Promise<TaskEntity[]> {
    return this.listQuery(filter).limit(filter.limit).getMany();
  }

  /**
   * The id `window` rows down the list from the cursor, ignoring the text term: a text search
   * scans at most that many rows per page (through the same index as the list) and the next
   * page resumes below it, so a rare term over millions of rows never walks them in one query.
   * Undefined when fewer rows remain.
   */
  async scanFloor(filter: Omit<TaskListFilter, 'limit'>, window: number): Promise<string | undefined> {
    const row = await this.listQuery({ ...filter, text: undefined, limit: 1 })
      .select('t.id', 'id')
      .offset(window - 1)
      .limit(1)
      .getRawOne<{ id: string }>();
    return row?.id;
  }

  /**
   * Tasks per status, each count stopping at `cap` (a capped index range scan per status on
   * `(tenant_id, status, id)`), so the console's live counts cost the same on any ledger size.
   */
  async countByStatus(tenantId: string | readonly string[], statuses: readonly TaskStatus[], cap: number, type?: string): Promise<Record<string, number>> {
    const tenants = typeof tenantId === 'string' ? [tenantId] : tenantId;
    const counts = await Promise.all(
      statuses.map(async (status) => {
        const inner = this.tasks
          .createQueryBuilder('t')
          .select('1', 'one')
          .where('t.tenantId IN (:...tenants)', { tenants })
          .andWhere('t.status = :status', { status })
          .limit(cap);
        if (type) inner.andWhere('t.type = :type', { type });
        const row = await this.tasks.manager
          .createQueryBuilder()
          .select('COUNT(*)', 'count')
          .from(`(${inner.getQuery()})`, 'capped')
          .setParameters(inner.getParameters())
          .getRawOne<{ count: string | number }>();
        return [status, Number(row?.count ?? 0)] as const;
      }),
    );
    return Object.fromEntries(counts);
  }

  /**
   * The newest `window` failed tasks grouped by type and error code, largest group first: the
   * failed inbox. One range scan of `(tenant_id, status, id)` capped at `window` rows.
   */
  async failureGroups(tenantId: string | readonly string[], window: number): Promise<FailureGroup[]> {
    const tenants = typeof tenantId === 'string' ? [tenantId] : tenantId;
    const dialect = dialectOf(this.tasks.manager.connection);
    const newest = this.tasks
      .createQueryBuilder('t')
      .select('t.type', 'type')
      .addSelect(errorCodeSql(dialect), 'code')
      .addSelect('t.id', 'id')
      .where('t.tenantId IN (:...tenants)', { tenants })
      .andWhere('t.status = :status', { status: 'failed' })
      .orderBy('t.id', 'DESC')
      .limit(window);
    const rows = await this.tasks.manager
      .createQueryBuilder()
      .select('w.type', 'type')
      .addSelect('w.code', 'code')
      .addSelect('COUNT(*)', 'count')
      .addSelect(dialect === 'postgres' ? 'MAX(CAST(w.id AS text))' : 'MAX(w.id)', 'latestId')
      .from(`(${newest.getQuery()})`, 'w')
      .setParameters(newest.getParameters())
      .groupBy('w.type')
      .addGroupBy('w.code')
      .getRawMany<{ type: string; code: string | null; count: string | number; latestId: string }>();
    return rows
      .map((row) => ({ type: row.type, errorCode: row.code ?? null, count: Number(row.count), latestId: row.latestId }))
      .sort((a, b) => b.count - a.count || (a.latestId < b.latestId ? 1 : -1));
  }

  private listQuery(filter: TaskListFilter) {
    const tenants = typeof filter.tenantId === 'string' ? [filter.tenantId] : filter.tenantId;
    const query = this.tasks.createQueryBuilder('t').where('t.tenantId IN (:...tenants)', { tenants }).orderBy('t.id', 'DESC');
    if (filter.type) query.andWhere('t.type = :type', { type: filter.type });
    if (filter.status) query.andWhere('t.status = :status', { status: filter.status });
    if (filter.parentId) query.andWhere('t.parentId = :parentId', { parentId: filter.parentId });
    if (filter.rootId) query.andWhere('t.rootId = :rootId', { rootId: filter.rootId });
    if (filter.scheduleId) query.andWhere('t.scheduleId = :scheduleId', { scheduleId: filter.scheduleId });
    if (filter.before) query.andWhere('t.id < :before', { before: filter.before });
    if (filter.tag) {
      const tag = JSON.stringify([filter.tag]);
      query.andWhere(
        new Brackets((where) =>
          dialectOf(this.tasks.manager.connection) === 'postgres'
            ? where.where('t.tags @> CAST(:tag AS jsonb)', { tag })
            : where.where('JSON_CONTAINS(t.tags, :tag)', { tag }),
        ),
      );
    }
    applySearchTerms(query, filter, dialectOf(this.tasks.manager.connection));
    return query;
  }
}
