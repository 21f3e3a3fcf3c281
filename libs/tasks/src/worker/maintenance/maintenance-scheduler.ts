import { Injectable, Logger, type BeforeApplicationShutdown } from '@nestjs/common';
import { SchedulerRegistry } from '@nestjs/schedule';

/**
 * Runs the worker's housekeeping jobs on intervals taken from config (which is why they are
 * registered here and not with `@Interval`, whose period is fixed at compile time). A tick
 * is skipped while the job's previous run in this process is still going; the jobs take the
 * cross-process lock themselves. On shutdown the intervals stop (ScheduleModule clears them)
 * and a run under way is told to stop and awaited, so it never outlives the DB connection.
 */
@Injectable()
export class MaintenanceScheduler implements BeforeApplicationShutdown {
  private readonly logger = new Logger(MaintenanceScheduler.name);
  private readonly running = new Map<string, Promise<void>>();
  private readonly stopping = new AbortController();

  constructor(private readonly registry: SchedulerRegistry) {}

  /** `periodMs` 0 turns the job off. */
  every(name: string, periodMs: number, job: (signal: AbortSignal) => Promise<unknown>): void {
    if (periodMs <= 0) {
      this.logger.log({ job: name }, 'maintenance job turned off');
      return;
    }
    this.registry.addInterval(
      `maintenance:${name}`,
      setInterval(() => this.tick(name, job), periodMs),
    );
    this.logger.log({ job: name, periodMs }, 'maintenance job scheduled');
  }

  private tick(name: string, job: (signal: AbortSignal) => Promise<unknown>): void {
    if (this.running.has(name) || this.stopping.signal.aborted) return;
    const run = job(this.stopping.signal)
      .then(() => undefined)
      .catch((error: unknown) => this.logger.error({ err: error, job: name }, 'maintenance job failed; next run retries'))
      .finally(() => this.running.delete(name));
    this.running.set(name, run);
  }

  async beforeApplicationShutdown(): Promise<void> {
    this.stopping.abort(new Error('shutting down'));
    await Promise.all(this.running.values());
  }
}
