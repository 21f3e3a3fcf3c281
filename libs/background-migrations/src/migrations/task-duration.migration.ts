import { defineBackgroundMigration } from '../background-migration';

/**
 * Fills `tasks.duration_ms` (finished_at − started_at, in ms) on rows that finished before the
 * column existed; the worker's terminal writes fill it for every task since. Walks the ledger
 * by id and touches only finished rows still without a value, so it is safe to start on a
 * ledger of any size while the platform runs.
 */
export const TASK_DURATION_BACKFILL = defineBackgroundMigration({
  name: 'tasks.duration-ms',
  description: 'Backfills tasks.duration_ms (finished_at − started_at) on tasks that finished before the column existed.',
  source: { table: 'tasks', key: 'id', where: 'finished_at IS NOT NULL AND started_at IS NOT NULL AND duration_ms IS NULL' },
  batchSize: 5000,
  pauseMs: 50,
  async up(batch, { manager, dialect }) {
    const duration =
      dialect === 'postgres'
        ? 'CAST(ROUND(EXTRACT(EPOCH FROM (finished_at - started_at)) * 1000) AS bigint)'
        : 'TIMESTAMPDIFF(MICROSECOND, started_at, finished_at) DIV 1000';
    const p = (n: number) => (dialect === 'postgres' ? `$${n}` : '?');
    // The batch's key range, with the source's condition again: the rows there that match it are the batch.
    const range = batch.after === null ? `id <= ${p(1)}` : `id > ${p(1)} AND id <= ${p(2)}`;
    await manager.query(
      `UPDATE tasks SET duration_ms = ${duration} WHERE ${range} AND finished_at IS NOT NULL AND started_at IS NOT NULL AND duration_ms IS NULL`,
      batch.after === null ? [batch.last] : [batch.after, batch.last],
    );
  },
});

/** The migrations this lib ships (declared when the lib loads). */
export const SHIPPED_MIGRATIONS = [TASK_DURATION_BACKFILL];
