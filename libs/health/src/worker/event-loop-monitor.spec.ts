import { Logger } from '@nestjs/common';
import type { AppConfig } from '@conveyor/config';
import { DEGRADED_FOR_MS, EventLoopMonitor } from './event-loop-monitor';

const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

/** Holds the event loop the way a CPU-bound handler would. */
function block(ms: number): void {
  const until = performance.now() + ms;
  while (performance.now() < until);
}

describe('EventLoopMonitor', () => {
  let monitor: EventLoopMonitor;
  let warn: jest.SpyInstance;

  beforeEach(() => {
    warn = jest.spyOn(Logger.prototype, 'warn').mockImplementation(() => undefined);
    monitor = new EventLoopMonitor({ worker: { eventLoopBlockMs: 200 } } as AppConfig);
    monitor.onApplicationBootstrap();
  });

  afterEach(() => {
    monitor.onApplicationShutdown();
    warn.mockRestore();
  });

  it('reports a stall once the loop is free again, and degraded readiness for a while', async () => {
    await sleep(120);
    expect(monitor.status()).toEqual({ status: 'ok' });
    block(600);
    await sleep(150);
    const status = monitor.status();
    expect(status).toMatchObject({ status: 'degraded' });
    expect(status.lastBlockMs).toBeGreaterThanOrEqual(200);
    expect(warn).toHaveBeenCalledWith(expect.objectContaining({ blockedMs: status.lastBlockMs, thresholdMs: 200 }), expect.stringContaining('blocked'));
    expect(monitor.status(Date.now() + DEGRADED_FOR_MS + 1)).toEqual({ status: 'ok' });
  });

  it('stays quiet while the loop keeps turning', async () => {
    for (let i = 0; i < 5; i++) {
      block(20);
      await sleep(30);
    }
    expect(monitor.status()).toEqual({ status: 'ok' });
    expect(warn).not.toHaveBeenCalled();
  });
});
