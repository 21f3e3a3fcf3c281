import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { MissedPolicy, OverlapPolicy, TaskTemplate } from './schedule-policy';

const bigintAsNumber = {
  to: (value: number | null) => value,
  from: (value: string | number | null) => (value === null ? null : Number(value)),
};

/** A schedule: a task template and when to run it (cron in a zone, or every N ms). */
@Entity({ name: 'schedules' })
export class ScheduleEntity {
  /** UUIDv7. */
  @PrimaryColumn({ type: 'varchar', length: 36 })
  id: string;

  @Column({ name: 'tenant_id', type: 'varchar', length: 64 })
  tenantId: string;

  /** "<task type>:<id>" for a schedule declared in code; null for one made through the API. */
  @Column({ type: 'varchar', length: 200, nullable: true })
  key: string | null;

  @Column({ type: 'varchar', length: 128, nullable: true })
  cron: string | null;

  @Column({ name: 'every_ms', type: 'bigint', nullable: true, transformer: bigintAsNumber })
  everyMs: number | null;

  @Column({ type: 'varchar', length: 64 })
  timezone: string;

  @Column({ type: 'json' })
  task: TaskTemplate;

  @Column({ type: 'varchar', length: 16 })
  overlap: OverlapPolicy;

  @Column({ type: 'varchar', length: 16 })
  missed: MissedPolicy;

  @Column({ name: 'catch_up_limit', type: 'int' })
  catchUpLimit: number;

  @Column({ name: 'start_at', type: 'timestamp', precision: 3, nullable: true })
  startAt: Date | null;

  @Column({ name: 'end_at', type: 'timestamp', precision: 3, nullable: true })
  endAt: Date | null;

  @Column({ type: 'boolean' })
  enabled: boolean;

  @Column({ type: 'boolean' })
  paused: boolean;

  /** The next tick to fire; null when the series has ended. Advanced only by compare-and-set. */
  @Column({ name: 'next_run_at', type: 'timestamp', precision: 3, nullable: true })
  nextRunAt: Date | null;

  @Column({ name: 'last_tick_at', type: 'timestamp', precision: 3, nullable: true })
  lastTickAt: Date | null;

  @Column({ name: 'created_at', type: 'timestamp', precision: 3 })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamp', precision: 3 })
  updatedAt: Date;
}

export function timingOf(schedule: ScheduleEntity) {
  return {
    cron: schedule.cron,
    everyMs: schedule.everyMs,
    timezone: schedule.timezone,
    startAt: schedule.startAt,
    endAt: schedule.endAt,
    anchor: schedule.startAt ?? schedule.createdAt,
  };
}
