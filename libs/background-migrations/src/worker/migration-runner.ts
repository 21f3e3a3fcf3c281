import { Inject, Injectable } from '@nestjs/common';
import { InjectDataSource } from '@nestjs/typeorm';
import type { Logger } from 'pino';
import type { DataSource, EntityManager } from 'typeorm';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { dialectOf, type SqlDialect } from '@conveyor/database';
import type { BackgroundMigrationDefinition, BatchKey, MigrationBatch } from '../background-migration';
import { BackgroundMigrationBatchEntity, BackgroundMigrationEntity } from '../background-migration.entity';
import { staleAfterMs } from '../migration-state';

/** What one step did. */
export type StepOutcome =
  { outcome: 'batch'; batch: number; rows: number; seconds: number; nextInMs: number } | { outcome: 'completed' | 'superseded' | 'not-running' };

/** What became of a failed batch: retried after `nextInMs`, or the migration failed. */
export type FailureOutcome = { outcome: 'failed-batch'; nextInMs: number } | { outcome: 'failed' | 'superseded' | 'not-running' };

/** Longest wait between failed batches. */
const MAX_BACKOFF_MS = 60_000;

/**
 * Runs the batches of background migrations. A batch is one transaction: it locks the
 * migration's row (so two steps of one migration, on any workers, never overlap), checks that
 * its chain is the current one, reads the next keys after the checkpoint, runs the
 * migration's `up`, and moves the checkpoint with a row in the batch log. The work and the
 * checkpoint commit together or not at all: a crash at any point leaves the previous
 * checkpoint and no trace of the batch, so no row is processed twice or skipped.
 */
@Injectable()
export class MigrationRunner {
  private readonly dialect: SqlDialect;

  constructor(
    @InjectDataSource() private readonly dataSource: DataSource,
    @Inject(APP_CONFIG) private readonly config: AppConfig,
  ) {
    this.dialect = dialectOf(dataSource);
  }

  async step(definition: BackgroundMigrationDefinition, generation: number, signal: AbortSignal, logger: Logger): Promise<StepOutcome> {
    await this.waitUntilDue(definition.name, generation, signal);
    return this.dataSource.transaction('READ COMMITTED', async (manager) => {
      const row = await this.lock(manager, definition.name);
      if (!row || row.status !== 'running') return { outcome: 'not-running' as const };
      if (row.generation !== generation) return { outcome: 'superseded' as const };
      const started = new Date();
      const repository = manager.getRepository(BackgroundMigrationEntity);
      if (row.rowsTotal === null) row.rowsTotal = await this.count(manager, definition);
      const keys = await this.nextKeys(manager, definition, row.checkpoint);
      if (keys.length === 0) {
        await repository.update(
          { name: row.name },
          { status: 'completed', rowsTotal: row.rowsTotal, finishedAt: started, nextStepAt: null, updatedAt: started },
        );
        return { outcome: 'completed' as const };
      }
      const batch: MigrationBatch = { number: row.batches + 1, after: row.checkpoint, last: keys[keys.length - 1], keys };
      signal.throwIfAborted();
      await definition.up(batch, { manager, dialect: this.dialect, signal, logger });
      signal.throwIfAborted();
      const finished = new Date();
      const nextInMs = this.delayAfter(definition, keys.length, finished.getTime() - started.getTime());
      await repository.update(
        { name: row.name },
        {
          checkpoint: String(batch.last),
          rowsProcessed: row.rowsProcessed + keys.length,
          rowsTotal: row.rowsTotal,
          batches: batch.number,
          consecutiveFailures: 0,
          segmentRows: row.segmentRows + keys.length,
          lastBatchAt: finished,
          nextStepAt: new Date(finished.getTime() + nextInMs),
          updatedAt: finished,
        },
      );
      await manager.getRepository(BackgroundMigrationBatchEntity).insert({
        migration: row.name,
        number: batch.number,
        cursorFrom: row.checkpoint,
        cursorTo: String(batch.last),
        rowCount: keys.length,
        startedAt: started,
        finishedAt: finished,
      });
      return { outcome: 'batch' as const, batch: batch.number, rows: keys.length, seconds: (finished.getTime() - started.getTime()) / 1000, nextInMs };
    });
  }

  /** Counts a failed batch (its transaction rolled back); the migration fails at its limit of failures in a row. */
  async recordFailure(definition: BackgroundMigrationDefinition, generation: number, error: unknown): Promise<FailureOutcome> {
    return this.dataSource.transaction('READ COMMITTED', async (manager) => {
      const row = await this.lock(manager, definition.name);
      if (!row || row.status !== 'running') return { outcome: 'not-running' as const };
      if (row.generation !== generation) return { outcome: 'superseded' as const };
      const now = new Date();
      const consecutive = row.consecutiveFailures + 1;
      const failed = consecutive >= definition.maxConsecutiveFailures;
      const nextInMs = Math.min(MAX_BACKOFF_MS, Math.max(definition.pauseMs, 1000 * 2 ** (consecutive - 1)));
      const message = (error instanceof Error ? error.message : String(error)).slice(0, 2000);
      await manager.getRepository(BackgroundMigrationEntity).update(
        { name: row.name },
        {
          failures: row.failures + 1,
          consecutiveFailures: consecutive,
          lastError: { message, batch: row.batches + 1, at: now.toISOString() },
          ...(failed ? { status: 'failed' as const, nextStepAt: null } : { nextStepAt: new Date(now.getTime() + nextInMs) }),
          updatedAt: now,
        },
      );
      return failed ? { outcome: 'failed' as const } : { outcome: 'failed-batch' as const, nextInMs };
    });
  }

  /**
   * The running migrations whose next step is long overdue (cancelled, expired or given up by
   * the queue), each moved to a new generation whose first step the caller creates. A chain
   * that was only late stops at its next step (superseded): at most one chain ever works.
   */
  async restartStalled(): Promise<Array<{ name: string; generation: number }>> {
    const cutoff = new Date(Date.now() - staleAfterMs(this.config));
    const candidates = await this.dataSource
      .getRepository(BackgroundMigrationEntity)
      .createQueryBuilder('m')
      .where("m.status = 'running' AND (m.nextStepAt IS NULL OR m.nextStepAt < :cutoff)", { cutoff })
      .getMany();
    const restarted: Array<{ name: string; generation: number }> = [];
    for (const candidate of candidates) {
      const generation = await this.dataSource.transaction('READ COMMITTED', async (manager) => {
        const row = await this.lock(manager, candidate.name);
        if (!row || row.status !== 'running' || (row.nextStepAt !== null && row.nextStepAt >= cutoff)) return null;
        const now = new Date();
        await manager
          .getRepository(BackgroundMigrationEntity)
          .update({ name: row.name }, { generation: row.generation + 1, nextStepAt: now, segmentStartedAt: now, segmentRows: 0, updatedAt: now });
        return row.generation + 1;
      });
      if (generation !== null) restarted.push({ name: candidate.name, generation });
    }
    return restarted;
  }

  /**
   * A step that starts before its chain's next step is due (a late watch, a clock a little
   * ahead) waits for it, so the pause between batches holds whoever starts the step.
   */
  private async waitUntilDue(name: string, generation: number, signal: AbortSignal): Promise<void> {
    const row = await this.dataSource.getRepository(BackgroundMigrationEntity).findOneBy({ name });
    if (!row?.nextStepAt || row.generation !== generation || row.status !== 'running') return;
    const wait = row.nextStepAt.getTime() - Date.now();
    if (wait <= 0) return;
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(resolve, Math.min(wait, MAX_BACKOFF_MS));
      signal.addEventListener(
        'abort',
        () => {
          clearTimeout(timer);
          reject(signal.reason as Error);
        },
        { once: true },
      );
    });
  }

  /** The pause before the next batch: pauseMs, or longer if the rate limit asks for it. */
  private delayAfter(definition: BackgroundMigrationDefinition, rows: number, batchMs: number): number {
    const forRate = definition.maxRowsPerSecond ? Math.ceil((rows * 1000) / definition.maxRowsPerSecond) - batchMs : 0;
    return Math.max(definition.pauseMs, forRate);
  }

  private lock(manager: EntityManager, name: string): Promise<BackgroundMigrationEntity | null> {
    return manager.getRepository(BackgroundMigrationEntity).createQueryBuilder('m').setLock('pessimistic_write').where('m.name = :name', { name }).getOne();
  }

  private async count(manager: EntityManager, { source }: BackgroundMigrationDefinition): Promise<number> {
    const where = source.where ? ` WHERE ${source.where}` : '';
    const [row] = await manager.query<Array<{ n: string | number }>>(`SELECT COUNT(*) AS n FROM ${this.escape(source.table)}${where}`);
    return Number(row.n);
  }

  private async nextKeys(manager: EntityManager, { source, batchSize }: BackgroundMigrationDefinition, after: string | null): Promise<BatchKey[]> {
    const key = this.escape(source.key);
    const conditions = [...(after === null ? [] : [`${key} > ${this.dialect === 'postgres' ? '$1' : '?'}`]), ...(source.where ? [`(${source.where})`] : [])];
    const where = conditions.length > 0 ? ` WHERE ${conditions.join(' AND ')}` : '';
    const sql = `SELECT ${key} AS k FROM ${this.escape(source.table)}${where} ORDER BY ${key} LIMIT ${batchSize}`;
    const rows = await manager.query<Array<{ k: BatchKey }>>(sql, after === null ? [] : [after]);
    return rows.map((row) => row.k);
  }

  private escape(identifier: string): string {
    return this.dialect === 'postgres' ? `"${identifier}"` : `\`${identifier}\``;
  }
}
