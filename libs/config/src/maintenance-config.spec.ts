import { ConfigValidationError, loadAppConfig } from './app-config';

const BASE = { DATABASE_URL: 'postgres://db.internal/ledger' };

describe('stall timing and maintenance settings', () => {
  it("default to BullMQ's 30 s lock and stall check, a 1 min reconciler with a 2 min safety age, hourly retention, a 1 min migration watch", () => {
    const config = loadAppConfig(BASE);
    expect(config.worker).toMatchObject({ lockDurationMs: 30_000, stalledIntervalMs: 30_000 });
    expect(config.maintenance).toEqual({
      reconcileIntervalMs: 60_000,
      reconcileMinAgeMs: 120_000,
      retentionIntervalMs: 3_600_000,
      backgroundMigrationWatchMs: 60_000,
    });
  });

  it('reads every key, and 0 turns a maintenance job off', () => {
    const config = loadAppConfig({
      ...BASE,
      WORKER_LOCK_DURATION_MS: '2000',
      WORKER_STALLED_INTERVAL_MS: '1000',
      RECONCILE_INTERVAL_MS: '0',
      RECONCILE_MIN_AGE_MS: '600000',
      RETENTION_INTERVAL_MS: '0',
      BACKGROUND_MIGRATION_WATCH_MS: '0',
    });
    expect(config.worker).toMatchObject({ lockDurationMs: 2000, stalledIntervalMs: 1000 });
    expect(config.maintenance).toEqual({ reconcileIntervalMs: 0, reconcileMinAgeMs: 600_000, retentionIntervalMs: 0, backgroundMigrationWatchMs: 0 });
  });

  it('refuses values that would break recovery: a tiny lock, a zero stall check, a safety age under 10 s', () => {
    let error: unknown;
    try {
      loadAppConfig({ ...BASE, WORKER_LOCK_DURATION_MS: '500', WORKER_STALLED_INTERVAL_MS: '0', RECONCILE_MIN_AGE_MS: '2000', RETENTION_INTERVAL_MS: '-1' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect((error as ConfigValidationError).problems.map((p) => p.key).sort()).toEqual([
      'RECONCILE_MIN_AGE_MS',
      'RETENTION_INTERVAL_MS',
      'WORKER_LOCK_DURATION_MS',
      'WORKER_STALLED_INTERVAL_MS',
    ]);
  });

  it('refuses a maintenance interval under 1 s other than 0: it is the everyMs of a system schedule', () => {
    let error: unknown;
    try {
      loadAppConfig({ ...BASE, RECONCILE_INTERVAL_MS: '300', RETENTION_INTERVAL_MS: '999', BACKGROUND_MIGRATION_WATCH_MS: '500' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect((error as ConfigValidationError).problems).toEqual([
      { key: 'RECONCILE_INTERVAL_MS', problems: ['must be 0 (off) or at least 1000'] },
      { key: 'RETENTION_INTERVAL_MS', problems: ['must be 0 (off) or at least 1000'] },
      { key: 'BACKGROUND_MIGRATION_WATCH_MS', problems: ['must be 0 (off) or at least 1000'] },
    ]);
    expect(loadAppConfig({ ...BASE, RECONCILE_INTERVAL_MS: '1000' }).maintenance.reconcileIntervalMs).toBe(1000);
  });
});
