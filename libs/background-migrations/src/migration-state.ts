import type { AppConfig } from '@conveyor/config';
import type { BackgroundMigrationDefinition } from './background-migration';
import type { BackgroundMigrationEntity } from './background-migration.entity';
import type { MigrationStatus } from './background-migrations.contract';

/** A migration as known here: its declaration (absent if the code no longer has it) and its state in SQL (absent until first started). */
export interface MigrationState {
  name: string;
  definition?: BackgroundMigrationDefinition;
  row: BackgroundMigrationEntity | null;
}

export function statusOf(state: MigrationState): MigrationStatus {
  return state.row?.status ?? 'pending';
}

/**
 * How long past its due time a running migration's next step may be missing before the chain
 * counts as stalled (the watch restarts it; `resume` may too): a killed worker's step comes
 * back within the lock and stall-check times, so a minute beyond them is no false alarm. A
 * false alarm would cost nothing anyway: the old chain's steps see a newer generation and stop.
 */
export function staleAfterMs(config: AppConfig): number {
  return config.worker.lockDurationMs + config.worker.stalledIntervalMs + 60_000;
}

export function isStalled(row: BackgroundMigrationEntity | null, config: AppConfig, now = Date.now()): boolean {
  if (row?.status !== 'running') return false;
  return row.nextStepAt === null || row.nextStepAt.getTime() + staleAfterMs(config) < now;
}

/** Rows per second since the last start or resume (pauses and throttling included); null before a batch. */
export function rowsPerSecond(row: BackgroundMigrationEntity | null): number | null {
  if (!row?.segmentStartedAt || !row.lastBatchAt || row.segmentRows === 0) return null;
  const seconds = (row.lastBatchAt.getTime() - row.segmentStartedAt.getTime()) / 1000;
  return seconds > 0 ? row.segmentRows / seconds : null;
}

/** Seconds left at the current rate, from the row count taken at the start (an estimate); null when unknown. */
export function etaSeconds(row: BackgroundMigrationEntity | null): number | null {
  if (!row || row.status === 'completed') return row ? 0 : null;
  const rate = rowsPerSecond(row);
  if (rate === null || row.rowsTotal === null) return null;
  return Math.ceil(Math.max(0, row.rowsTotal - row.rowsProcessed) / rate);
}

/** Share done in percent (0–100, one decimal), from the row count taken at the start. */
export function percentDone(row: BackgroundMigrationEntity | null): number | null {
  if (!row) return null;
  if (row.status === 'completed') return 100;
  if (row.rowsTotal === null) return null;
  if (row.rowsTotal === 0) return 0;
  return Math.min(100, Math.round((row.rowsProcessed / row.rowsTotal) * 1000) / 10);
}
