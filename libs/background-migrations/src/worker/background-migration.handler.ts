import { MigrationMetrics } from '@conveyor/observability';
import { HandlesTask, TaskFailure, TaskInterruptedError, type TaskContext, type TaskHandler } from '@conveyor/tasks';
import { declaredMigration } from '../background-migration';
import { BACKGROUND_MIGRATION_STEP, type BackgroundMigrationPayload, type BackgroundMigrationStepResult } from '../background-migrations.contract';
import { MigrationRunner } from './migration-runner';

/**
 * A step of a migration's chain: one batch, then the next step as a follow-up (created with
 * this task's completion, exactly once, delayed by the pause). A failed batch is counted and
 * retried by a later step after a backoff, until the migration's limit of failures in a row
 * fails it. A step whose worker dies runs again on another worker (BullMQ's stall check) and
 * does the batch after the last committed checkpoint. Without a name: a watch run.
 */
@HandlesTask(BACKGROUND_MIGRATION_STEP)
export class BackgroundMigrationHandler implements TaskHandler<BackgroundMigrationPayload, BackgroundMigrationStepResult> {
  constructor(
    private readonly runner: MigrationRunner,
    private readonly metrics: MigrationMetrics,
  ) {}

  async handle(payload: BackgroundMigrationPayload, context: TaskContext): Promise<BackgroundMigrationStepResult> {
    if (!payload.name) return this.watch(context);
    const { name, generation = 1 } = payload;
    const definition = declaredMigration(name);
    if (!definition) throw new TaskFailure('UNKNOWN_BACKGROUND_MIGRATION', `this worker declares no background migration "${name}"`, false);
    const next = (nextInMs: number) => context.enqueue(BACKGROUND_MIGRATION_STEP, { name, generation }, { delayMs: nextInMs, key: 'next' });
    try {
      const step = await this.runner.step(definition, generation, context.signal, context.logger);
      if (step.outcome !== 'batch') {
        if (step.outcome === 'completed') context.logger.info({ migration: name }, 'background migration completed');
        return { migration: name, outcome: step.outcome };
      }
      this.metrics.batchCommitted(name, step.rows, step.seconds);
      await next(step.nextInMs);
      return { migration: name, outcome: 'batch', batch: step.batch, rows: step.rows, nextInMs: step.nextInMs };
    } catch (error) {
      // A shutdown hands the step back to the queue; the batch rolled back and runs again.
      if (error instanceof TaskInterruptedError || (context.signal.aborted && context.signal.reason instanceof TaskInterruptedError)) throw error;
      this.metrics.batchFailed(name);
      const failure = await this.runner.recordFailure(definition, generation, error);
      const message = error instanceof Error ? error.message : String(error);
      context.logger.warn({ err: error, migration: name, outcome: failure.outcome }, 'background migration batch failed');
      if (failure.outcome === 'failed') throw new TaskFailure('BACKGROUND_MIGRATION_FAILED', `background migration "${name}" failed: ${message}`, false);
      if (failure.outcome === 'failed-batch') await next(failure.nextInMs);
      return { migration: name, outcome: failure.outcome, error: message.slice(0, 500) };
    }
  }

  private async watch(context: TaskContext): Promise<BackgroundMigrationStepResult> {
    const restarted = await this.runner.restartStalled();
    for (const { name, generation } of restarted) {
      await context.enqueue(BACKGROUND_MIGRATION_STEP, { name, generation }, { key: `${name}:${generation}` });
    }
    if (restarted.length > 0) context.logger.warn({ restarted }, 'restarted stalled background migrations');
    return { outcome: 'watched', restarted: restarted.map((r) => r.name) };
  }
}
