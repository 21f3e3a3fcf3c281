import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { TaskEntity } from '../../ledger/task.entity';
import { JOB_STATUSES, TERMINAL_STATUSES, type TaskStatus } from '../../ledger/task-status';

/** States in which the ledger expects a BullMQ job to exist. */
export const UNFINISHED_STATUSES: readonly TaskStatus[] = JOB_STATUSES;
const FINISHED_STATUSES: readonly TaskStatus[] = [...TERMINAL_STATUSES];

export type UnfinishedTaskRef = Pick<TaskEntity, 'id' | 'queue' | 'status'>;
export type FinishedTaskRef = Pick<TaskEntity, 'id' | 'queue'>;

/**
 * The SQL of the worker's housekeeping (reconciler and retention), on both dialects through
 * TypeORM's query builder. Every statement is short and stands alone (autocommit): no
 * transaction is ever held open while the caller talks to Redis, and each page or batch is
 * bounded, so neither job holds locks on many rows for long.
 */
@Injectable()
export class LedgerMaintenanceRepository {
  constructor(@InjectRepository(TaskEntity) private readonly tasks: Repository<TaskEntity>) {}

  /**
   * One page, in id order after `afterId`, of rows in an unfinished state and unchanged since
   * `olderThan`. Only the columns the job check needs: a large backlog is scanned every run.
   */
  findStaleUnfinished(queues: readonly string[], olderThan: Date, afterId: string | null, limit: number): Promise<UnfinishedTaskRef[]> {
    if (queues.length === 0) return Promise.resolve([]);
    const query = this.tasks
      .createQueryBuilder('t')
      .select(['t.id', 't.queue', 't.status'])
      .where('t.status IN (:...statuses)', { statuses: UNFINISHED_STATUSES })
      .andWhere('t.queue IN (:...queues)', { queues })
      .andWhere('t.updatedAt < :olderThan', { olderThan })
      .orderBy('t.id', 'ASC')
      .limit(limit);
    if (afterId) query.andWhere('t.id > :afterId', { afterId });
    return query.getMany();
  }

  /** Full rows, re-read after Redis said their jobs are gone, still unfinished and still old. */
  findStaleUnfinishedByIds(ids: readonly string[], olderThan: Date): Promise<TaskEntity[]> {
    if (ids.length === 0) return Promise.resolve([]);
    return this.tasks
      .createQueryBuilder('t')
      .where('t.id IN (:...ids)', { ids })
      .andWhere('t.status IN (:...statuses)', { statuses: UNFINISHED_STATUSES })
      .andWhere('t.updatedAt < :olderThan', { olderThan })
      .orderBy('t.id', 'ASC')
      .getMany();
  }

  /**
   * Sets the row's new waiting state only if it is still as the reconciler read it (same
   * status, untouched since `olderThan`); false means a worker or the API changed it
   * meanwhile, and the row must be left alone.
   */
  async claimForRequeue(row: TaskEntity, olderThan: Date, status: TaskStatus, now: Date): Promise<boolean> {
    const result = await this.tasks
      .createQueryBuilder()
      .update(TaskEntity)
      .set({ status, updatedAt: now })
      .where('id = :id', { id: row.id })
      .andWhere('status = :seen', { seen: row.status })
      .andWhere('updated_at < :olderThan', { olderThan })
      .execute();
    return result.affected === 1;
  }

  /**
   * Up to `limit` finished rows that finished before `cutoff` (the `ix_tasks_status_finished`
   * index), but not the children of a flow parent still waiting for its others.
   */
  findFinishedBefore(cutoff: Date, limit: number): Promise<FinishedTaskRef[]> {
    return (
      this.tasks
        .createQueryBuilder('t')
        .select(['t.id', 't.queue'])
        .where('t.status IN (:...statuses)', { statuses: FINISHED_STATUSES })
        .andWhere('t.finishedAt < :cutoff', { cutoff })
        // A flow node whose parent still waits is kept: the parent reads it when it runs.
        .andWhere("NOT (t.on_failure IS NOT NULL AND EXISTS (SELECT 1 FROM tasks p WHERE p.id = t.parent_id AND p.status = 'waiting'))")
        .limit(limit)
        .getMany()
    );
  }

  /** Which of these ids still have a row. */
  async findExistingIds(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.tasks.createQueryBuilder('t').select(['t.id']).where('t.id IN (:...ids)', { ids }).getMany();
    return rows.map((row) => row.id);
  }

  /** Deletes those rows, re-checking the condition so a row retried meanwhile stays. Returns the count. */
  async deleteFinished(ids: readonly string[], cutoff: Date): Promise<number> {
    if (ids.length === 0) return 0;
    const result = await this.tasks
      .createQueryBuilder()
      .delete()
      .from(TaskEntity)
      .where('id IN (:...ids)', { ids })
      .andWhere('status IN (:...statuses)', { statuses: FINISHED_STATUSES })
      .andWhere('finished_at < :cutoff', { cutoff })
      .execute();
    return result.affected ?? 0;
  }
}
