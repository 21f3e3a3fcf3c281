import type { AppConfig } from '@conveyor/config';
import { defineBackgroundMigration } from './background-migration';
import type { BackgroundMigrationEntity } from './background-migration.entity';
import { etaSeconds, isStalled, percentDone, rowsPerSecond, staleAfterMs } from './migration-state';

const config = { worker: { lockDurationMs: 30_000, stalledIntervalMs: 30_000 } } as AppConfig;
const at = (seconds: number) => new Date(Date.UTC(2026, 0, 1) + seconds * 1000);

function row(overrides: Partial<BackgroundMigrationEntity>): BackgroundMigrationEntity {
  return {
    status: 'running',
    rowsProcessed: 0,
    rowsTotal: 1000,
    segmentRows: 0,
    segmentStartedAt: at(0),
    lastBatchAt: null,
    nextStepAt: at(0),
    ...overrides,
  } as BackgroundMigrationEntity;
}

describe('background migration progress', () => {
  it('measures rows/s since the last start or resume and the ETA from the rows left', () => {
    const running = row({ rowsProcessed: 600, segmentRows: 400, lastBatchAt: at(8) });
    expect(rowsPerSecond(running)).toBe(50);
    expect(etaSeconds(running)).toBe(8);
    expect(percentDone(running)).toBe(60);
    // Before a batch of this segment, nothing is known yet.
    expect(rowsPerSecond(row({ rowsProcessed: 600 }))).toBeNull();
    expect(etaSeconds(row({ rowsProcessed: 600 }))).toBeNull();
    // More rows done than counted at the start (rows added meanwhile): no negative ETA, at most 100 %.
    expect(etaSeconds(row({ rowsProcessed: 1200, segmentRows: 100, lastBatchAt: at(1) }))).toBe(0);
    expect(percentDone(row({ rowsProcessed: 1200 }))).toBe(100);
    expect(percentDone(row({ status: 'completed', rowsTotal: null }))).toBe(100);
  });

  it('calls a running chain stalled once its next step is overdue beyond the lock and stall times plus a minute', () => {
    expect(staleAfterMs(config)).toBe(120_000);
    const due = row({ nextStepAt: at(0) });
    expect(isStalled(due, config, at(119).getTime())).toBe(false);
    expect(isStalled(due, config, at(121).getTime())).toBe(true);
    expect(isStalled(row({ status: 'paused', nextStepAt: null }), config, at(999).getTime())).toBe(false);
  });

  it('refuses declarations that could not run: a bad name, an unsafe identifier, a batch size out of range, a name twice', () => {
    const base = { description: 'd', source: { table: 'items', key: 'id' }, batchSize: 10, up: () => Promise.resolve() };
    expect(() => defineBackgroundMigration({ ...base, name: 'Bad Name' })).toThrow(/must look like/);
    expect(() => defineBackgroundMigration({ ...base, name: 'spec.table', source: { table: 'items; DROP', key: 'id' } })).toThrow(/identifiers/);
    expect(() => defineBackgroundMigration({ ...base, name: 'spec.size', batchSize: 0 })).toThrow(/batchSize/);
    expect(defineBackgroundMigration({ ...base, name: 'spec.once' }).maxConsecutiveFailures).toBe(3);
    expect(() => defineBackgroundMigration({ ...base, name: 'spec.once' })).toThrow(/declared twice/);
  });
});
