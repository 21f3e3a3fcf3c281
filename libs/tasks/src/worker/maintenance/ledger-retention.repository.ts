import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { SYSTEM_TENANT } from '@conveyor/http';
import { TaskEntity } from '../../ledger/task.entity';
import { TaskLogEntity } from '../../task-logs/task-log.entity';
import { TERMINAL_STATUSES } from '../../ledger/task-status';
import { MAINTENANCE_TASK_TYPES } from '../../maintenance.contract';

const FINISHED_STATUSES: readonly string[] = [...TERMINAL_STATUSES];
/** Kept by count, not age (see MAINTENANCE_RUNS_KEPT). */
const MAINTENANCE_TYPES: readonly string[] = MAINTENANCE_TASK_TYPES.map((definition) => definition.type);

export type FinishedTaskRef = Pick<TaskEntity, 'id' | 'queue'>;

/**
 * The SQL of retention, on both dialects through TypeORM's query builder. Every statement is
 * short and stands alone (autocommit), and each batch is bounded, so a purge never holds
 * locks on many rows for long.
 */
@Injectable()
export class LedgerRetentionRepository {
  constructor(@InjectRepository(TaskEntity) private readonly tasks: Repository<TaskEntity>) {}

  /** Up to `limit` finished rows that finished before `cutoff` (the `ix_tasks_status_finished` index), housekeeping runs aside. */
  findFinishedBefore(cutoff: Date, limit: number): Promise<FinishedTaskRef[]> {
    return (
      this.tasks
        .createQueryBuilder('t')
        .select(['t.id', 't.queue'])
        .where('t.status IN (:...statuses)', { statuses: FINISHED_STATUSES })
        .andWhere('t.finishedAt < :cutoff', { cutoff })
        .andWhere('t.type NOT IN (:...kept)', { kept: MAINTENANCE_TYPES })
        // A flow node whose parent still waits is kept: the parent reads it when it runs.
        .andWhere("NOT (t.on_failure IS NOT NULL AND EXISTS (SELECT 1 FROM tasks p WHERE p.id = t.parent_id AND p.status = 'waiting'))")
        .limit(limit)
        .getMany()
    );
  }

  /**
   * The id of the oldest of the latest `keep` runs of a housekeeping type, or null when there
   * are no more than that (the `ix_tasks_tenant_type_id` index; ids are time-ordered).
   */
  async oldestKeptRun(type: string, keep: number): Promise<string | null> {
    const rows = await this.tasks
      .createQueryBuilder('t')
      .select(['t.id'])
      .where('t.tenantId = :tenant AND t.type = :type', { tenant: SYSTEM_TENANT, type })
      .orderBy('t.id', 'DESC')
      .offset(keep - 1)
      .limit(1)
      .getMany();
    return rows[0]?.id ?? null;
  }

  /** Up to `limit` finished runs of a housekeeping type older than the run `beforeId`. */
  findFinishedRunsBefore(type: string, beforeId: string, limit: number): Promise<FinishedTaskRef[]> {
    return this.tasks
      .createQueryBuilder('t')
      .select(['t.id', 't.queue'])
      .where('t.tenantId = :tenant AND t.type = :type AND t.id < :beforeId', { tenant: SYSTEM_TENANT, type, beforeId })
      .andWhere('t.status IN (:...statuses)', { statuses: FINISHED_STATUSES })
      .orderBy('t.id', 'ASC')
      .limit(limit)
      .getMany();
  }

  /** Which of these ids still have a row. */
  async findExistingIds(ids: readonly string[]): Promise<string[]> {
    if (ids.length === 0) return [];
    const rows = await this.tasks.createQueryBuilder('t').select(['t.id']).where('t.id IN (:...ids)', { ids }).getMany();
    return rows.map((row) => row.id);
  }

  /**
   * Deletes those rows if still finished (and, with `cutoff`, finished before it), so a row
   * retried meanwhile stays. Their task logs go first, under the same condition: a crash in
   * between leaves rows without logs for the next purge, never logs without their task.
   * Returns the count of tasks deleted.
   */
  async deleteFinished(ids: readonly string[], cutoff?: Date): Promise<number> {
    if (ids.length === 0) return 0;
    await this.tasks
      .createQueryBuilder()
      .delete()
      .from(TaskLogEntity)
      .where('task_id IN (:...ids)', { ids })
      .andWhere(`task_id IN (SELECT id FROM tasks WHERE id IN (:...ids) AND status IN (:...statuses)${cutoff ? ' AND finished_at < :cutoff' : ''})`, {
        statuses: FINISHED_STATUSES,
        ...(cutoff ? { cutoff } : {}),
      })
      .execute();
    const query = this.tasks
      .createQueryBuilder()
      .delete()
      .from(TaskEntity)
      .where('id IN (:...ids)', { ids })
      .andWhere('status IN (:...statuses)', { statuses: FINISHED_STATUSES });
    if (cutoff) query.andWhere('finished_at < :cutoff', { cutoff });
    const result = await query.execute();
    return result.affected ?? 0;
  }
}
