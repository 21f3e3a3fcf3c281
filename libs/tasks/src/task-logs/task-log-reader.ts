import { Injectable } from '@nestjs/common';
import { InjectRepository } from '@nestjs/typeorm';
import type { Repository } from 'typeorm';
import { TaskLogEntity } from './task-log.entity';

/** Reads a task's stored log lines, oldest first (the table's primary key, task then line). */
@Injectable()
export class TaskLogReader {
  constructor(@InjectRepository(TaskLogEntity) private readonly lines: Repository<TaskLogEntity>) {}

  /** Up to `limit` lines of the task after the line `after` (its id), of one attempt or of all. */
  page(taskId: string, options: { attempt?: number; after?: string; limit: number }): Promise<TaskLogEntity[]> {
    const query = this.lines.createQueryBuilder('l').where('l.taskId = :taskId', { taskId });
    if (options.attempt !== undefined) query.andWhere('l.attempt = :attempt', { attempt: options.attempt });
    if (options.after) query.andWhere('l.id > :after', { after: options.after });
    return query.orderBy('l.id', 'ASC').limit(options.limit).getMany();
  }
}
