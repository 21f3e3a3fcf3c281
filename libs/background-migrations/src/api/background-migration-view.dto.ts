import type { AppConfig } from '@conveyor/config';
import type { MigrationStatus } from '../background-migrations.contract';
import { etaSeconds, isStalled, percentDone, rowsPerSecond, statusOf, type MigrationState } from '../migration-state';

const iso = (date: Date | null | undefined) => (date ? date.toISOString() : null);

/** The last failed batch's error. */
export class MigrationErrorView {
  message: string;
  /** The number of the batch that failed. */
  batch: number;
  at: string;
}

/** A background migration with its progress, as the admin API and the CLI show it. */
export class BackgroundMigrationView {
  name: string;
  description: string | null;
  /** pending (never started), running, paused, completed, failed. */
  status: MigrationStatus;
  /** False for state whose migration the code no longer declares. */
  declared: boolean;
  /** Running, but its next step is long overdue; the watch restarts it (or `resume`). */
  stalled: boolean;
  batchSize: number | null;
  pauseMs: number | null;
  maxRowsPerSecond: number | null;
  rowsProcessed: number;
  /** Rows to process, counted when the first step ran (an estimate: rows change meanwhile). */
  rowsTotal: number | null;
  percent: number | null;
  batches: number;
  failures: number;
  /** Rows per second since the last start or resume, pauses included. */
  rowsPerSecond: number | null;
  /** Seconds left at that rate. */
  etaSeconds: number | null;
  /** The last key of the last committed batch. */
  checkpoint: string | null;
  lastError: MigrationErrorView | null;
  startedAt: string | null;
  pausedAt: string | null;
  finishedAt: string | null;
  lastBatchAt: string | null;
  nextStepAt: string | null;
}

export class BackgroundMigrationListView {
  migrations: BackgroundMigrationView[];
}

export function toMigrationView(state: MigrationState, config: AppConfig): BackgroundMigrationView {
  const { definition, row } = state;
  const rate = rowsPerSecond(row);
  return {
    name: state.name,
    description: definition?.description ?? null,
    status: statusOf(state),
    declared: definition !== undefined,
    stalled: isStalled(row, config),
    batchSize: definition?.batchSize ?? null,
    pauseMs: definition?.pauseMs ?? null,
    maxRowsPerSecond: definition?.maxRowsPerSecond ?? null,
    rowsProcessed: row?.rowsProcessed ?? 0,
    rowsTotal: row?.rowsTotal ?? null,
    percent: percentDone(row),
    batches: row?.batches ?? 0,
    failures: row?.failures ?? 0,
    rowsPerSecond: rate === null ? null : Math.round(rate * 10) / 10,
    etaSeconds: row?.status === 'running' ? etaSeconds(row) : row?.status === 'completed' ? 0 : null,
    checkpoint: row?.checkpoint ?? null,
    lastError: row?.lastError ?? null,
    startedAt: iso(row?.startedAt),
    pausedAt: iso(row?.pausedAt),
    finishedAt: iso(row?.finishedAt),
    lastBatchAt: iso(row?.lastBatchAt),
    nextStepAt: iso(row?.nextStepAt),
  };
}
