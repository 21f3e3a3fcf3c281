import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { TaskEntity } from '../ledger/task.entity';
import { JOB_STATUSES, type TaskStatus } from '../ledger/task-status';

/** States in which the ledger expects a BullMQ job to exist. */
export const UNFINISHED_STATUSES: readonly TaskStatus[] = JOB_STATUSES;

export type UnfinishedTaskRef = Pick<TaskEntity, 'id' | 'queue' | 'status' | 'attempts'>;

/**
 * The SQL of finding and re-queuing tasks whose job Redis lost, on both dialects. Every
 * statement is short and stands alone (autocommit): no transaction is held open while the
 * caller talks to Redis, and each page is bounded.
 */
@Injectable()
export class LostJobsRepository {
  constructor(@InjectRepository(TaskEntity) private readonly tasks: Repository<TaskEntity>) {}

  /**
   * One page, in id order after `afterId`, of rows in an unfinished state and unchanged since
   * `olderThan`. Only the columns the job check needs: a large backlog is scanned every run.
   */
  findStaleUnfinished(queues: readonly string[], olderThan: Date, afterId: string | null, limit: number): Promise<UnfinishedTaskRef[]> {
    if (queues.length === 0) return Promise.resolve([]);
    const query = this.staleUnfinished(olderThan).andWhere('t.queue IN (:...queues)', { queues }).orderBy('t.id', 'ASC').limit(limit);
    if (afterId) query.andWhere('t.id > :afterId', { afterId });
    return query.getMany();
  }

  /** A schedule's unfinished runs unchanged since `olderThan` (the (schedule_id, schedule_tick) index). */
  findStaleUnfinishedRuns(scheduleId: string, olderThan: Date, limit: number): Promise<UnfinishedTaskRef[]> {
    return this.staleUnfinished(olderThan).andWhere('t.scheduleId = :scheduleId', { scheduleId }).limit(limit).getMany();
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
   * Sets the row's new waiting state only if it is still as it was read (same status,
   * untouched since `olderThan`); false means a worker or the API changed it meanwhile, and
   * the row must be left alone.
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

  private staleUnfinished(olderThan: Date) {
    return this.tasks
      .createQueryBuilder('t')
      .select(['t.id', 't.queue', 't.status', 't.attempts'])
      .where('t.status IN (:...statuses)', { statuses: UNFINISHED_STATUSES })
      .andWhere('t.updatedAt < :olderThan', { olderThan });
  }
}
