import type { SchedulerRegistry } from '@nestjs/schedule';
import { MaintenanceScheduler } from './maintenance-scheduler';
import { attemptsUsed } from './task-reconciler.service';

describe('attemptsUsed (what a re-queued task has spent)', () => {
  const interrupted = { code: 'INTERRUPTED', message: 'shutdown' };
  it.each([
    [0, 'a new queued task', { status: 'queued', attempts: 0, error: null }],
    [0, 'a scheduled task', { status: 'scheduled', attempts: 0, error: null }],
    [0, 'a task running attempt 1', { status: 'active', attempts: 1, error: null }],
    [2, 'a task running attempt 3', { status: 'active', attempts: 3, error: null }],
    [1, 'a task released by a shutdown during attempt 2', { status: 'queued', attempts: 2, error: interrupted }],
    [1, 'a task whose attempt 1 failed', { status: 'retrying', attempts: 1, error: { code: 'X', message: 'x' } }],
    [3, 'a failed task retried by hand after 3 attempts', { status: 'queued', attempts: 3, error: null }],
  ] as const)('%i attempts used by %s', (used, _what, row) => {
    expect(attemptsUsed(row)).toBe(used);
  });
});

describe('MaintenanceScheduler', () => {
  function setup() {
    const intervals = new Map<string, NodeJS.Timeout>();
    const registry = { addInterval: jest.fn((name: string, ref: NodeJS.Timeout) => intervals.set(name, ref)) };
    const scheduler = new MaintenanceScheduler(registry as unknown as SchedulerRegistry);
    const tick = async () => {
      await jest.advanceTimersByTimeAsync(1000);
    };
    return { scheduler, registry, intervals, tick };
  }

  beforeEach(() => jest.useFakeTimers());
  afterEach(() => jest.useRealTimers());

  it('registers nothing for a period of 0', () => {
    const { scheduler, registry } = setup();
    scheduler.every('reconcile', 0, jest.fn());
    expect(registry.addInterval).not.toHaveBeenCalled();
  });

  it('runs the job every period, skipping ticks while the previous run is still going', async () => {
    const { scheduler, intervals, tick } = setup();
    let finish!: () => void;
    const job = jest.fn(() => new Promise<void>((resolve) => (finish = resolve)));
    scheduler.every('reconcile', 1000, job);
    expect([...intervals.keys()]).toEqual(['maintenance:reconcile']);

    await tick();
    await tick();
    expect(job).toHaveBeenCalledTimes(1);
    finish();
    await tick();
    expect(job).toHaveBeenCalledTimes(2);
    finish();
    clearInterval(intervals.get('maintenance:reconcile'));
  });

  it('keeps going after a failed run', async () => {
    const { scheduler, intervals, tick } = setup();
    const job = jest.fn().mockRejectedValueOnce(new Error('db down')).mockResolvedValue(undefined);
    scheduler.every('retention', 1000, job);
    await tick();
    await tick();
    expect(job).toHaveBeenCalledTimes(2);
    clearInterval(intervals.get('maintenance:retention'));
  });

  it('on shutdown signals the running job, waits for it, and starts no new run', async () => {
    const { scheduler, intervals, tick } = setup();
    let signal!: AbortSignal;
    let finish!: () => void;
    const job = jest.fn((s: AbortSignal) => {
      signal = s;
      return new Promise<void>((resolve) => (finish = resolve));
    });
    scheduler.every('reconcile', 1000, job);
    await tick();
    let stopped = false;
    const stopping = scheduler.beforeApplicationShutdown().then(() => (stopped = true));
    expect(signal.aborted).toBe(true);
    await Promise.resolve();
    expect(stopped).toBe(false);
    finish();
    await stopping;
    await tick();
    expect(job).toHaveBeenCalledTimes(1);
    clearInterval(intervals.get('maintenance:reconcile'));
  });
});
