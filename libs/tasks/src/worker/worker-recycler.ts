import { Inject, Injectable, Logger, type OnApplicationBootstrap, type OnApplicationShutdown } from '@nestjs/common';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';

/**
 * Exit code of a recycled worker (sysexits' EX_TEMPFAIL, "try again"): it stopped on purpose,
 * after a clean drain, for its supervisor to start a fresh one. start-worker.sh restarts on it;
 * pm2 (autorestart) and Kubernetes (restartPolicy Always) restart on any exit.
 */
export const RECYCLE_EXIT_CODE = 75;

/** How often resident memory is compared with WORKER_MAX_RSS. */
export const RSS_CHECK_MS = 2000;

export type RecycleHandler = (reason: string) => void;

/** Why a worker with these limits should recycle now, or null (a limit of 0 is off). */
export function recycleReason(limits: { maxTasks: number; maxRssMb: number }, tasksDone: number, rssBytes: number): string | null {
  if (limits.maxTasks > 0 && tasksDone >= limits.maxTasks) return `${tasksDone} tasks done (WORKER_MAX_TASKS=${limits.maxTasks})`;
  const rssMb = Math.round(rssBytes / 1024 / 1024);
  if (limits.maxRssMb > 0 && rssMb >= limits.maxRssMb) return `resident memory ${rssMb} MB (WORKER_MAX_RSS=${limits.maxRssMb})`;
  return null;
}

/**
 * Recycling (WORKER_MAX_TASKS, WORKER_MAX_RSS): counts the tasks this process ran and watches its
 * RSS; once a limit is reached it calls the handler the bootstrap registered, once. The handler
 * stops the app the way SIGTERM does (no new job, running ones finish and release their locks by
 * completing, the ledger is flushed) and exits RECYCLE_EXIT_CODE. Slow leaks and fragmentation
 * then cost a restart, not an OOM kill that would leave running tasks to the stall check.
 */
@Injectable()
export class WorkerRecycler implements OnApplicationBootstrap, OnApplicationShutdown {
  private readonly logger = new Logger(WorkerRecycler.name);
  private tasksDone = 0;
  private timer?: NodeJS.Timeout;
  private handler?: RecycleHandler;
  private reason: string | null = null;

  constructor(@Inject(APP_CONFIG) private readonly config: AppConfig) {}

  onApplicationBootstrap(): void {
    if (this.config.worker.maxRssMb <= 0) return;
    this.timer = setInterval(() => this.check(), RSS_CHECK_MS);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
  }

  /** Registers what recycling does (the worker's bootstrap: close the app, exit RECYCLE_EXIT_CODE). */
  onRecycle(handler: RecycleHandler): void {
    this.handler = handler;
  }

  /** Why the worker is recycling, once it is. */
  get recycling(): string | null {
    return this.reason;
  }

  /**
   * A task's attempt ended in this process (completed, failed or released). On the task path:
   * only counts (resident memory is read by the timer, never per task).
   */
  taskFinished(): void {
    this.tasksDone++;
    if (this.config.worker.maxTasks > 0 && this.tasksDone >= this.config.worker.maxTasks) this.check();
  }

  private check(): void {
    if (this.reason !== null) return;
    const rss = this.config.worker.maxRssMb > 0 ? process.memoryUsage.rss() : 0;
    const reason = recycleReason(this.config.worker, this.tasksDone, rss);
    if (reason === null) return;
    this.reason = reason;
    clearInterval(this.timer);
    this.logger.log({ reason, tasksDone: this.tasksDone, exitCode: RECYCLE_EXIT_CODE }, 'recycling: no new tasks, finishing running ones, then exiting');
    if (this.handler) this.handler(reason);
    else this.logger.warn('recycling requested but nothing registered to stop the worker');
  }
}
