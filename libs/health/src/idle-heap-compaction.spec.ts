import { getHeapSpaceStatistics } from 'node:v8';
import { compactHeapWhenIdle, IdleCompactionPolicy } from './idle-heap-compaction';

const youngCommittedBytes = (): number => getHeapSpaceStatistics().find((space) => space.space_name === 'new_space')?.space_size ?? 0;

describe('IdleCompactionPolicy', () => {
  it('compacts after the first idle window, then not again until a busy window came between', () => {
    const policy = new IdleCompactionPolicy();
    expect([0.5, 0.01, 0.0, 0.01].map((u) => policy.observe(u))).toEqual([false, true, false, false]);
    // A middling window (neither idle nor busy) does not re-arm it; a busy one does.
    expect([0.05, 0.01, 0.3, 0.01, 0.001].map((u) => policy.observe(u))).toEqual([false, false, false, true, false]);
  });

  it('never compacts while the loop is not idle', () => {
    const policy = new IdleCompactionPolicy();
    expect([0.02, 0.05, 0.9, 0.03].some((u) => policy.observe(u))).toBe(false);
  });
});

describe('compactHeapWhenIdle', () => {
  it('is off at 0', () => {
    const logger = { log: jest.fn(), debug: jest.fn() };
    compactHeapWhenIdle(0, logger)();
    expect(logger.log).not.toHaveBeenCalled();
    expect(logger.debug).not.toHaveBeenCalled();
  });

  it('runs a real shrinking collection once the event loop has been idle', async () => {
    // Grow the young generation the way a burst of work does, then go idle.
    let made = 0;
    for (let round = 0; round < 200; round += 1) made += Array.from({ length: 20_000 }, (_, i) => ({ i, s: `x${i}` })).length;
    expect(made).toBe(4_000_000);
    const youngBefore = youngCommittedBytes();
    const logger = { log: jest.fn(), debug: jest.fn() };
    const stop = compactHeapWhenIdle(150, logger);
    try {
      await new Promise<void>((resolve) => {
        const check = setInterval(() => {
          if (logger.debug.mock.calls.length === 0) return;
          clearInterval(check);
          resolve();
        }, 20);
      });
    } finally {
      stop();
    }
    expect(logger.log).not.toHaveBeenCalled();
    const [fields, message] = logger.debug.mock.calls[0] as [{ rssMbBefore: number; rssMbAfter: number; tookMs: number }, string];
    expect(message).toBe('idle: heap compacted');
    expect(fields.rssMbBefore).toBeGreaterThan(0);
    expect(fields.tookMs).toBeGreaterThanOrEqual(0);
    // The young generation was given back: what it commits now is less than before.
    expect(youngCommittedBytes()).toBeLessThan(youngBefore);
  });
});
