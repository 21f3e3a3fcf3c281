import { monitorEventLoopDelay, type ELDHistogram } from 'node:perf_hooks';
import { Inject, Injectable, Logger, type OnApplicationShutdown } from '@nestjs/common';
import type { Worker } from 'bullmq';
import { APP_CONFIG, concurrencyRangeOf, type AppConfig, type ConcurrencyRange } from '@conveyor/config';
import { JobRelay } from '../../intake/job-relay';
import { decideConcurrency } from './autoscale-decision';

/** How a queue's concurrency is chosen right now. */
export type ConcurrencyMode = 'fixed' | 'autoscaled' | 'operator';

/** One consumed queue's concurrency, for readiness and logs. */
export interface QueueConcurrencyStatus {
  queue: string;
  concurrency: number;
  min: number;
  max: number;
  mode: ConcurrencyMode;
  running: number;
}

interface QueueState {
  worker: Worker;
  range: ConcurrencyRange;
  /**
   * The operator's `PATCH /v1/queues/:name {concurrency}`; it wins over the range while set.
   * Undefined until QueueSettingsApplier has read the stored settings: no scaling before that.
   */
  override: number | null | undefined;
  running: number;
  peakRunning: number;
  idleSince: number;
}

/**
 * The one owner of this process's per-queue concurrency. A queue configured with a range
 * (`WORKER_CONCURRENCY=min..max`) starts at min; every WORKER_AUTOSCALE_INTERVAL_MS this class
 * samples the queue's waiting jobs, the tasks it ran, the event-loop delay and the process CPU,
 * and applies {@link decideConcurrency}. An operator's stored concurrency wins: the queue then runs
 * exactly that value and autoscaling of it pauses until the override is removed (`null`), when it
 * resumes from the operator's value, clamped into the range.
 */
@Injectable()
export class ConcurrencyAutoscaler implements OnApplicationShutdown {
  private readonly logger = new Logger(ConcurrencyAutoscaler.name);
  private readonly queues = new Map<string, QueueState>();
  private timer?: NodeJS.Timeout;
  private delay?: ELDHistogram;
  private lastCpu!: NodeJS.CpuUsage;
  private lastSampleAt = 0;
  private ticking = false;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
    private readonly relay: JobRelay,
  ) {}

  /** Starts managing these running workers; samples only when some queue has a range. */
  attach(workers: readonly Worker[]): void {
    for (const worker of workers) {
      this.queues.set(worker.name, {
        worker,
        range: concurrencyRangeOf(this.config.worker, worker.name),
        override: this.queues.get(worker.name)?.override,
        running: 0,
        peakRunning: 0,
        idleSince: Date.now(),
      });
    }
    if (this.timer || ![...this.queues.values()].some((state) => state.range.max > state.range.min)) return;
    this.delay = monitorEventLoopDelay({ resolution: 10 });
    this.delay.enable();
    this.lastCpu = process.cpuUsage();
    this.lastSampleAt = performance.now();
    this.timer = setInterval(() => void this.tick(), this.config.worker.autoscale.intervalMs);
    this.timer.unref();
  }

  onApplicationShutdown(): void {
    clearInterval(this.timer);
    this.delay?.disable();
  }

  /**
   * The concurrency `worker` must run with, given the operator's stored value (null: none);
   * the caller (QueueSettingsApplier) applies it. Without an override: the current value, kept
   * inside the range.
   */
  settle(worker: Worker, override: number | null): number {
    const state = this.queues.get(worker.name);
    const range = state?.range ?? concurrencyRangeOf(this.config.worker, worker.name);
    if (state) state.override = override;
    if (override !== null) return override;
    if (range.min === range.max) return range.min;
    return Math.min(range.max, Math.max(range.min, worker.concurrency));
  }

  taskStarted(queue: string): void {
    const state = this.queues.get(queue);
    if (!state) return;
    state.running++;
    state.peakRunning = Math.max(state.peakRunning, state.running);
  }

  taskFinished(queue: string): void {
    const state = this.queues.get(queue);
    if (state) state.running = Math.max(0, state.running - 1);
  }

  status(): QueueConcurrencyStatus[] {
    return [...this.queues.entries()].map(([queue, state]) => ({
      queue,
      concurrency: state.worker.concurrency,
      min: state.range.min,
      max: state.range.max,
      mode: typeof state.override === 'number' ? 'operator' : state.range.min === state.range.max ? 'fixed' : 'autoscaled',
      running: state.running,
    }));
  }

  private async tick(): Promise<void> {
    if (this.ticking) return; // a slow Redis answer: skip a beat rather than pile up
    this.ticking = true;
    try {
      const now = performance.now();
      const cpu = process.cpuUsage(this.lastCpu);
      const cpuPercent = ((cpu.user + cpu.system) / 1000 / Math.max(1, now - this.lastSampleAt)) * 100;
      const eventLoopDelayMs = (this.delay?.percentile(99) ?? 0) / 1e6;
      this.delay?.reset();
      this.lastCpu = process.cpuUsage();
      this.lastSampleAt = now;
      // Every scaled queue counts its waiting jobs at once: one Redis round trip's wait per beat.
      const scaled = [...this.queues].filter(([, state]) => state.override === null && state.range.min !== state.range.max && !state.worker.closing);
      await Promise.all(scaled.map(([queue, state]) => this.scale(queue, state, { cpuPercent, eventLoopDelayMs })));
    } finally {
      this.ticking = false;
    }
  }

  private async scale(queue: string, state: QueueState, load: { cpuPercent: number; eventLoopDelayMs: number }): Promise<void> {
    let waiting: number;
    try {
      waiting = await this.relay.queue(queue).getJobCountByTypes('waiting', 'prioritized');
    } catch (error) {
      this.logger.warn({ err: error, queue }, 'autoscaler could not count waiting jobs; keeping the concurrency');
      return;
    }
    const current = state.worker.concurrency;
    const peakRunning = state.peakRunning;
    state.peakRunning = state.running;
    const nowMs = Date.now();
    if (waiting > 0 || peakRunning >= current) state.idleSince = nowMs;
    const decision = decideConcurrency(
      { current, range: state.range, waiting, peakRunning, idleForMs: nowMs - state.idleSince, ...load },
      this.config.worker.autoscale,
    );
    // An override may have arrived while counting: it wins.
    if (decision.concurrency === current || state.override !== null || state.worker.closing) return;
    state.worker.concurrency = decision.concurrency;
    this.logger.log(
      { queue, from: current, to: decision.concurrency, reason: decision.reason, waiting, peakRunning, ...roundLoad(load) },
      'queue concurrency autoscaled',
    );
  }
}

function roundLoad(load: { cpuPercent: number; eventLoopDelayMs: number }) {
  return { cpuPercent: Math.round(load.cpuPercent), eventLoopDelayMs: Math.round(load.eventLoopDelayMs) };
}
