import { IsInt, IsOptional, IsString, Length, Min } from 'class-validator';
import { defineTaskType, MAINTENANCE_QUEUE, type TaskTypeDefinition } from '@conveyor/tasks';

/** A background migration's state, as stored in `background_migrations.status`. */
export const MIGRATION_STATUSES = ['pending', 'running', 'paused', 'completed', 'failed'] as const;
export type MigrationStatus = (typeof MIGRATION_STATUSES)[number];

/**
 * One step of a migration's chain (`name` and the chain's `generation`): one batch, then the
 * next step as a follow-up. Without `name`, a watch run: restarts the chain of every running
 * migration whose next step is long overdue (a step cancelled or given up by the queue).
 */
export class BackgroundMigrationPayload {
  @IsOptional()
  @IsString()
  @Length(1, 128)
  name?: string;

  @IsOptional()
  @IsInt()
  @Min(1)
  generation?: number;
}

/** What a step (or a watch run) did, as its task's result. */
export interface BackgroundMigrationStepResult {
  migration?: string;
  /** What became of the chain: a batch committed, the migration ended, or nothing to do. */
  outcome: 'batch' | 'completed' | 'failed-batch' | 'failed' | 'superseded' | 'not-running' | 'watched';
  batch?: number;
  rows?: number;
  /** The next step's delay, when there is one. */
  nextInMs?: number;
  error?: string;
  /** Watch runs: the chains restarted. */
  restarted?: string[];
}

const common = {
  type: 'system.background-migration',
  queue: MAINTENANCE_QUEUE,
  description: 'One batch of a background migration (then the next step as a follow-up), or a watch run that restarts stalled chains.',
  payload: BackgroundMigrationPayload,
  // A failed batch is retried by the migration's own rules (the next step, after a backoff); a
  // step killed with its worker runs again after the stall check, without counting as a failure.
  defaults: { maxAttempts: 1, timeoutMs: 10 * 60_000 },
  systemOnly: true,
};

/** The same type, to name as its own follow-up (a definition cannot list itself while being made). */
const SELF: TaskTypeDefinition = defineTaskType<BackgroundMigrationPayload, BackgroundMigrationStepResult>(common);

export const BACKGROUND_MIGRATION_STEP = defineTaskType<BackgroundMigrationPayload, BackgroundMigrationStepResult>({
  ...common,
  followUps: [SELF],
  schedules: [{ id: 'watch', everyMs: (config) => config.maintenance.backgroundMigrationWatchMs, overlap: 'skip', missed: 'skip', payload: {} }],
});

export const BACKGROUND_MIGRATION_TASK_TYPES = [BACKGROUND_MIGRATION_STEP] as const;
