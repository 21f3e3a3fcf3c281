import { ConfigValidationError, loadAppConfig } from './app-config';

const BASE = { DATABASE_URL: 'postgres://db.internal/ledger' };

describe('scheduler settings', () => {
  it("default to the app's choice (enabled: null), a 250 ms wake and a 5 s grace for missed ticks", () => {
    expect(loadAppConfig(BASE).scheduler).toEqual({ enabled: null, intervalMs: 250, missedGraceMs: 5000 });
  });

  it('reads every key', () => {
    const config = loadAppConfig({ ...BASE, SCHEDULER_ENABLED: 'false', SCHEDULER_INTERVAL_MS: '1000', SCHEDULER_MISSED_GRACE_MS: '60000' });
    expect(config.scheduler).toEqual({ enabled: false, intervalMs: 1000, missedGraceMs: 60_000 });
  });

  it('refuses a busy loop and a nonsense flag', () => {
    let error: unknown;
    try {
      loadAppConfig({ ...BASE, SCHEDULER_ENABLED: 'maybe', SCHEDULER_INTERVAL_MS: '5', SCHEDULER_MISSED_GRACE_MS: '0' });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigValidationError);
    expect((error as ConfigValidationError).problems.map((p) => p.key).sort()).toEqual([
      'SCHEDULER_ENABLED',
      'SCHEDULER_INTERVAL_MS',
      'SCHEDULER_MISSED_GRACE_MS',
    ]);
  });
});
