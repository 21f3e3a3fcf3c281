import { RETRY_SCHEDULE_MS } from '../webhooks.contract';
import { retryDelayMs } from './retry-schedule';

describe('retryDelayMs', () => {
  it("follows Svix's schedule: at once, 5 s, 5 min, 30 min, 2 h, 5 h, 10 h, 10 h, then gives up", () => {
    const middle = Array.from({ length: 9 }, (_, step) => retryDelayMs(step, 0.5));
    expect(middle).toEqual([0, 5_000, 300_000, 1_800_000, 7_200_000, 18_000_000, 36_000_000, 36_000_000, null]);
  });

  it('spreads each wait by up to ±20 %, never the first', () => {
    expect(retryDelayMs(0, 0)).toBe(0);
    expect(retryDelayMs(1, 0)).toBe(4_000);
    expect(retryDelayMs(1, 0.999999)).toBe(6_000);
    for (let step = 1; step < RETRY_SCHEDULE_MS.length; step++) {
      const delay = retryDelayMs(step)!;
      expect(delay).toBeGreaterThanOrEqual(RETRY_SCHEDULE_MS[step] * 0.8);
      expect(delay).toBeLessThanOrEqual(RETRY_SCHEDULE_MS[step] * 1.2);
    }
  });

  it('survives a day of receiver downtime', () => {
    const total = RETRY_SCHEDULE_MS.reduce((sum, ms) => sum + ms, 0);
    expect(total).toBeGreaterThan(24 * 3_600_000);
  });
});
