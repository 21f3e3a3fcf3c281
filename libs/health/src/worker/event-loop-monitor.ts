import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';

/** How long readiness reports a stall: long enough for a probe or a scrape to see it. */
export const DEGRADED_FOR_MS = 60_000;

export interface EventLoopStatus {
  status: 'ok' | 'degraded';
  /** The longest stall that reached the threshold, since readiness last was ok. */
  lastBlockMs?: number;
  lastBlockAt?: string;
}

/**
 * Notices when the worker's event loop was blocked: while it is, nothing runs (BullMQ lock
 * renewals, health answers, other queues), so a task can lose its lock and run twice. A
 * heartbeat timer measures how late it fires; a stall of WORKER_EVENT_LOOP_BLOCK_MS or more is
 * logged once the loop is free again and shown in readiness as `degraded` for DEGRADED_FOR_MS. It can
 * only tell afterwards; the remedy is to run CPU-bound work on a thread (see file.clean).
 */
@Injectable()
export class EventLoopMonitor implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(EventLoopMonitor.name);
  private timer?: NodeJS.Timeout;
  private lastBlock?: { at: number; ms: number };

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  onApplicationBootstrap(): void {
    const threshold = this.config.worker.eventLoopBlockMs;
    // Beat often enough that the lateness of one beat measures the stall well.
    const interval = Math.max(10, Math.min(500, Math.floor(threshold / 4)));
    let expected = performance.now() + interval;
    this.timer = setInterval(() => {
      const now = performance.now();
      const late = now - expected;
      expected = now + interval;
      if (late >= threshold) this.blocked(Math.round(late));
    }, interval);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  status(now = Date.now()): EventLoopStatus {
    const block = this.lastBlock && now - this.lastBlock.at < DEGRADED_FOR_MS ? this.lastBlock : undefined;
    if (!block) return { status: 'ok' };
    return { status: 'degraded', lastBlockMs: block.ms, lastBlockAt: new Date(block.at).toISOString() };
  }

  private blocked(ms: number): void {
    const now = Date.now();
    // Each stall restarts the degraded period; the report keeps the longest one.
    this.lastBlock = { at: now, ms: Math.max(ms, this.status(now).lastBlockMs ?? 0) };
    this.logger.warn(
      { blockedMs: ms, thresholdMs: this.config.worker.eventLoopBlockMs },
      'the event loop was blocked: tasks could not renew their locks and health checks went unanswered meanwhile',
    );
  }
}
