import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { TaskLogLevel } from './task-log';

/** One line a handler logged with `ctx.log` (table `task_logs`, migration 013). */
@Entity({ name: 'task_logs' })
export class TaskLogEntity {
  @PrimaryColumn({ name: 'task_id', type: 'varchar', length: 36 })
  taskId: string;

  /** UUIDv7 made when the line was logged: time-ordered, the paging cursor. */
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ type: 'int' })
  attempt: number;

  @Column({ type: 'varchar', length: 8 })
  level: TaskLogLevel;

  @Column({ type: 'text' })
  message: string;

  @Column({ type: 'json', nullable: true })
  fields: Record<string, unknown> | null;

  @Column({ name: 'logged_at', type: 'timestamp', precision: 3 })
  loggedAt: Date;
}
