import { decideConcurrency, type AutoscaleSample } from './autoscale-decision';

const limits = { step: 2, idleMs: 10_000, maxEventLoopDelayMs: 100, maxCpuPercent: 90 };
const sample = (over: Partial<AutoscaleSample> = {}): AutoscaleSample => ({
  current: 4,
  range: { min: 1, max: 10 },
  waiting: 0,
  peakRunning: 0,
  idleForMs: 0,
  eventLoopDelayMs: 5,
  cpuPercent: 20,
  ...over,
});

describe('decideConcurrency', () => {
  it('raises by one step while jobs wait and the slots are busy, up to max', () => {
    expect(decideConcurrency(sample({ waiting: 50, peakRunning: 4 }), limits)).toEqual({ concurrency: 6, reason: 'backlog' });
    expect(decideConcurrency(sample({ current: 9, waiting: 50, peakRunning: 9 }), limits)).toEqual({ concurrency: 10, reason: 'backlog' });
    expect(decideConcurrency(sample({ current: 10, waiting: 50, peakRunning: 10 }), limits)).toEqual({ concurrency: 10, reason: 'steady' });
  });

  it('counts 3 of 4 slots as busy, 2 of 4 not (a paused or rate-limited queue has waiting jobs and idle slots)', () => {
    expect(decideConcurrency(sample({ waiting: 50, peakRunning: 3 }), limits).reason).toBe('backlog');
    expect(decideConcurrency(sample({ waiting: 50, peakRunning: 2 }), limits)).toEqual({ concurrency: 4, reason: 'steady' });
    expect(decideConcurrency(sample({ waiting: 50, peakRunning: 0, idleForMs: 60_000 }), limits)).toEqual({ concurrency: 4, reason: 'steady' });
  });

  it('never raises while the event loop or the CPU is over its limit, and steps down instead', () => {
    const busy = { waiting: 50, peakRunning: 4 };
    expect(decideConcurrency(sample({ ...busy, eventLoopDelayMs: 150 }), limits)).toEqual({ concurrency: 2, reason: 'overloaded' });
    expect(decideConcurrency(sample({ ...busy, cpuPercent: 95 }), limits)).toEqual({ concurrency: 2, reason: 'overloaded' });
    expect(decideConcurrency(sample({ ...busy, current: 2, cpuPercent: 95 }), limits)).toEqual({ concurrency: 1, reason: 'overloaded' });
    expect(decideConcurrency(sample({ ...busy, current: 1, cpuPercent: 95 }), limits)).toEqual({ concurrency: 1, reason: 'steady' });
    // exactly at the limit is still fine
    expect(decideConcurrency(sample({ ...busy, eventLoopDelayMs: 100, cpuPercent: 90 }), limits).reason).toBe('backlog');
  });

  it('lowers by one step once idle for idleMs, down to min', () => {
    expect(decideConcurrency(sample({ idleForMs: 9_999 }), limits)).toEqual({ concurrency: 4, reason: 'steady' });
    expect(decideConcurrency(sample({ idleForMs: 10_000 }), limits)).toEqual({ concurrency: 2, reason: 'idle' });
    expect(decideConcurrency(sample({ current: 2, idleForMs: 20_000, peakRunning: 1 }), limits)).toEqual({ concurrency: 1, reason: 'idle' });
    expect(decideConcurrency(sample({ current: 1, idleForMs: 20_000 }), limits)).toEqual({ concurrency: 1, reason: 'steady' });
  });

  it('keeps a queue whose slots are all used and nothing waits', () => {
    expect(decideConcurrency(sample({ peakRunning: 4, idleForMs: 60_000 }), limits)).toEqual({ concurrency: 4, reason: 'steady' });
  });

  it('moves a value outside the range back inside it first', () => {
    expect(decideConcurrency(sample({ current: 30, waiting: 50, peakRunning: 30 }), limits)).toEqual({ concurrency: 10, reason: 'range' });
    expect(decideConcurrency(sample({ current: 1, range: { min: 3, max: 8 } }), limits)).toEqual({ concurrency: 3, reason: 'range' });
  });

  it('follows the configured step', () => {
    expect(decideConcurrency(sample({ waiting: 1, peakRunning: 4 }), { ...limits, step: 5 })).toEqual({ concurrency: 9, reason: 'backlog' });
    expect(decideConcurrency(sample({ current: 9, idleForMs: 0 }), { ...limits, idleMs: 0, step: 5 })).toEqual({ concurrency: 4, reason: 'idle' });
  });

  it('climbs from min to max under a steady backlog and back to min when it ends', () => {
    let current = 1;
    const seen = [current];
    for (let i = 0; i < 10; i++) {
      current = decideConcurrency(sample({ current, waiting: 100, peakRunning: current }), limits).concurrency;
      seen.push(current);
    }
    expect(seen.slice(0, 7)).toEqual([1, 3, 5, 7, 9, 10, 10]);
    for (let i = 0; i < 10; i++) current = decideConcurrency(sample({ current, idleForMs: 60_000 }), limits).concurrency;
    expect(current).toBe(1);
  });
});
