import { Logger } from '@nestjs/common';
import type { AppConfig } from '@conveyor/config';
import { recycleReason, WorkerRecycler } from './worker-recycler';

const MB = 1024 * 1024;

describe('recycleReason', () => {
  it('is null while under both limits, and with limits off (0)', () => {
    expect(recycleReason({ maxTasks: 50, maxRssMb: 512 }, 49, 511 * MB)).toBeNull();
    expect(recycleReason({ maxTasks: 0, maxRssMb: 0 }, 1_000_000, 64_000 * MB)).toBeNull();
  });

  it('names the limit reached', () => {
    expect(recycleReason({ maxTasks: 50, maxRssMb: 0 }, 50, 0)).toBe('50 tasks done (WORKER_MAX_TASKS=50)');
    expect(recycleReason({ maxTasks: 0, maxRssMb: 512 }, 3, 600 * MB)).toBe('resident memory 600 MB (WORKER_MAX_RSS=512)');
  });
});

describe('WorkerRecycler', () => {
  beforeAll(() => jest.spyOn(Logger.prototype, 'log').mockImplementation(() => undefined));
  afterAll(() => jest.restoreAllMocks());

  it('calls its handler once, at the WORKER_MAX_TASKS-th finished task', () => {
    const recycler = new WorkerRecycler({ worker: { maxTasks: 3, maxRssMb: 0 } } as AppConfig);
    const handler = jest.fn();
    recycler.onRecycle(handler);
    recycler.taskFinished();
    recycler.taskFinished();
    expect(handler).not.toHaveBeenCalled();
    expect(recycler.recycling).toBeNull();
    recycler.taskFinished();
    recycler.taskFinished(); // tasks that were running still finish: no second call
    expect(handler).toHaveBeenCalledTimes(1);
    expect(handler).toHaveBeenCalledWith('3 tasks done (WORKER_MAX_TASKS=3)');
    expect(recycler.recycling).toMatch(/WORKER_MAX_TASKS/);
  });

  it('watches RSS only when WORKER_MAX_RSS is set', () => {
    jest.useFakeTimers();
    try {
      const handler = jest.fn();
      const small = new WorkerRecycler({ worker: { maxTasks: 0, maxRssMb: 1 } } as AppConfig);
      small.onRecycle(handler);
      small.onApplicationBootstrap();
      jest.advanceTimersByTime(5000);
      expect(handler).toHaveBeenCalledWith(expect.stringMatching(/^resident memory \d+ MB \(WORKER_MAX_RSS=1\)$/));
      small.onApplicationShutdown();

      const off = new WorkerRecycler({ worker: { maxTasks: 0, maxRssMb: 0 } } as AppConfig);
      const never = jest.fn();
      off.onRecycle(never);
      off.onApplicationBootstrap();
      jest.advanceTimersByTime(60_000);
      expect(never).not.toHaveBeenCalled();
    } finally {
      jest.useRealTimers();
    }
  });
});
