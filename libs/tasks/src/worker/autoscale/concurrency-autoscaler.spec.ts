import { Logger } from '@nestjs/common';
import type { Worker } from 'bullmq';
import type { AppConfig } from '@conveyor/config';
import type { JobRelay } from '../../intake/job-relay';
import { ConcurrencyAutoscaler } from './concurrency-autoscaler';

const config = {
  worker: {
    defaultConcurrency: 1,
    concurrency: { fixed: 3 },
    concurrencyRanges: { '*': { min: 1, max: 6 } },
    autoscale: { intervalMs: 60_000, step: 2, idleMs: 0, maxEventLoopDelayMs: 10_000, maxCpuPercent: 100_000 },
  },
} as unknown as AppConfig;

function setup(waiting: number) {
  const relay = { queue: jest.fn(() => ({ getJobCountByTypes: jest.fn().mockResolvedValue(waiting) })) } as unknown as JobRelay;
  const autoscaler = new ConcurrencyAutoscaler(config, relay);
  const workers = ['auto', 'fixed'].map((name) => ({ name, concurrency: name === 'fixed' ? 3 : 1, closing: false }) as unknown as Worker);
  autoscaler.attach(workers);
  const tick = () => (autoscaler as unknown as { tick(): Promise<void> }).tick();
  return { autoscaler, workers, tick };
}

describe('ConcurrencyAutoscaler', () => {
  beforeAll(() => jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined));
  afterAll(() => jest.restoreAllMocks());

  it('does not scale a queue before the stored settings were read, then scales it under a backlog', async () => {
    const { autoscaler, workers, tick } = setup(10);
    autoscaler.taskStarted('auto');
    await tick();
    expect(workers[0].concurrency).toBe(1); // override still unknown
    expect(autoscaler.settle(workers[0], null)).toBe(1);
    expect(autoscaler.settle(workers[1], null)).toBe(3);
    autoscaler.taskStarted('auto');
    await tick();
    expect(workers[0].concurrency).toBe(3);
    expect(workers[1].concurrency).toBe(3); // fixed: never touched
    expect(autoscaler.status()).toEqual([
      { queue: 'auto', concurrency: 3, min: 1, max: 6, mode: 'autoscaled', running: 2 },
      { queue: 'fixed', concurrency: 3, min: 3, max: 3, mode: 'fixed', running: 0 },
    ]);
    autoscaler.onApplicationShutdown();
  });

  it("lets an operator's value win and resumes from it, clamped into the range, once removed", async () => {
    const { autoscaler, workers, tick } = setup(10);
    expect(autoscaler.settle(workers[0], 20)).toBe(20);
    workers[0].concurrency = 20;
    autoscaler.taskStarted('auto');
    await tick();
    expect(workers[0].concurrency).toBe(20);
    expect(autoscaler.status()[0]).toMatchObject({ mode: 'operator', concurrency: 20 });
    expect(autoscaler.settle(workers[0], null)).toBe(6);
    workers[0].concurrency = 6;
    autoscaler.taskFinished('auto');
    await tick(); // idle (idleMs 0, nothing running) but jobs wait: unchanged
    expect(workers[0].concurrency).toBe(6);
    autoscaler.onApplicationShutdown();
  });

  it('falls back to min when idle', async () => {
    const { autoscaler, workers, tick } = setup(0);
    autoscaler.settle(workers[0], null);
    workers[0].concurrency = 5;
    await tick();
    expect(workers[0].concurrency).toBe(3);
    await tick();
    await tick();
    expect(workers[0].concurrency).toBe(1);
    autoscaler.onApplicationShutdown();
  });
});
