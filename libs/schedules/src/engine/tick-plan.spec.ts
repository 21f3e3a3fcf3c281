import { overlapRoom, planTicks } from './tick-plan';

describe('tick plan', () => {
  const now = 100_000;
  const grace = 5000;
  // Four missed ticks and one on time.
  const due = [60_000, 70_000, 80_000, 90_000, 99_000];

  it('skip drops the missed ticks and fires the on-time one', () => {
    expect(planTicks(due, now, grace, 'skip', 10)).toEqual({ fire: [99_000], missedRun: 0, missedDropped: 4 });
  });

  it('run-once fires the latest missed tick when none is on time, else only the on-time ones', () => {
    expect(planTicks(due.slice(0, 4), now, grace, 'run-once', 10)).toEqual({ fire: [90_000], missedRun: 1, missedDropped: 3 });
    expect(planTicks(due, now, grace, 'run-once', 10)).toEqual({ fire: [99_000], missedRun: 0, missedDropped: 4 });
  });

  it('catch-up fires the latest catchUpLimit missed ticks oldest first, then the on-time ones', () => {
    expect(planTicks(due, now, grace, 'catch-up', 2)).toEqual({ fire: [80_000, 90_000, 99_000], missedRun: 2, missedDropped: 2 });
    expect(planTicks(due, now, grace, 'catch-up', 10).fire).toEqual(due);
  });

  it('overlap: allow lets all through; skip one when nothing is unfinished; queue-one one when nothing waits', () => {
    expect(overlapRoom('allow', 3, { running: 5, waiting: 5 })).toBe(3);
    expect(overlapRoom('skip', 3, { running: 0, waiting: 0 })).toBe(1);
    expect(overlapRoom('skip', 3, { running: 1, waiting: 0 })).toBe(0);
    expect(overlapRoom('queue-one', 3, { running: 1, waiting: 0 })).toBe(1);
    expect(overlapRoom('queue-one', 3, { running: 1, waiting: 1 })).toBe(0);
  });
});
