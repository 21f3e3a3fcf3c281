import { Column, Entity, PrimaryColumn } from 'typeorm';
import type { MigrationStatus } from './background-migrations.contract';

/** bigint columns arrive as text from PostgreSQL; counts here stay far below 2^53. */
const bigintNumber = { to: (value: number) => value, from: (value: string | number | null) => (value === null ? null : Number(value)) };

/** The state of one background migration (created when it is first started). */
@Entity({ name: 'background_migrations' })
export class BackgroundMigrationEntity {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  name: string;

  @Column({ type: 'varchar', length: 16 })
  status: MigrationStatus;

  @Column({ type: 'int' })
  generation: number;

  @Column({ name: 'checkpoint_key', type: 'varchar', length: 255, nullable: true })
  checkpoint: string | null;

  @Column({ name: 'rows_processed', type: 'bigint', transformer: bigintNumber })
  rowsProcessed: number;

  @Column({ name: 'rows_total', type: 'bigint', nullable: true, transformer: bigintNumber })
  rowsTotal: number | null;

  @Column({ type: 'int' })
  batches: number;

  @Column({ type: 'int' })
  failures: number;

  @Column({ name: 'consecutive_failures', type: 'int' })
  consecutiveFailures: number;

  @Column({ name: 'last_error', type: 'json', nullable: true })
  lastError: { message: string; batch: number; at: string } | null;

  @Column({ name: 'started_at', type: 'timestamp', precision: 3, nullable: true })
  startedAt: Date | null;

  @Column({ name: 'finished_at', type: 'timestamp', precision: 3, nullable: true })
  finishedAt: Date | null;

  @Column({ name: 'paused_at', type: 'timestamp', precision: 3, nullable: true })
  pausedAt: Date | null;

  @Column({ name: 'segment_started_at', type: 'timestamp', precision: 3, nullable: true })
  segmentStartedAt: Date | null;

  @Column({ name: 'segment_rows', type: 'bigint', transformer: bigintNumber })
  segmentRows: number;

  @Column({ name: 'last_batch_at', type: 'timestamp', precision: 3, nullable: true })
  lastBatchAt: Date | null;

  @Column({ name: 'next_step_at', type: 'timestamp', precision: 3, nullable: true })
  nextStepAt: Date | null;

  @Column({ name: 'created_at', type: 'timestamp', precision: 3 })
  createdAt: Date;

  @Column({ name: 'updated_at', type: 'timestamp', precision: 3 })
  updatedAt: Date;
}

/** One committed batch: written in the batch's transaction, with the checkpoint it moved. */
@Entity({ name: 'background_migration_batches' })
export class BackgroundMigrationBatchEntity {
  @PrimaryColumn({ type: 'varchar', length: 128 })
  migration: string;

  @PrimaryColumn({ type: 'int' })
  number: number;

  @Column({ name: 'cursor_from', type: 'varchar', length: 255, nullable: true })
  cursorFrom: string | null;

  @Column({ name: 'cursor_to', type: 'varchar', length: 255 })
  cursorTo: string;

  @Column({ name: 'row_count', type: 'int' })
  rowCount: number;

  @Column({ name: 'started_at', type: 'timestamp', precision: 3 })
  startedAt: Date;

  @Column({ name: 'finished_at', type: 'timestamp', precision: 3 })
  finishedAt: Date;
}
