import { Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { METRIC } from './metric-names';

export type QueueDepthReader = () => Promise<Array<{ queue: string; counts: Record<string, number> }>>;

/** The one place metrics are recorded; processors and producers call these methods. */
@Injectable()
export class TaskMetrics {
  private depthReaders: QueueDepthReader[] = [];

  constructor(
    @InjectMetric(METRIC.tasksEnqueued) private readonly enqueuedTotal: Counter<string>,
    @InjectMetric(METRIC.tasksCompleted) private readonly completedTotal: Counter<string>,
    @InjectMetric(METRIC.tasksFailed) private readonly failedTotal: Counter<string>,
    @InjectMetric(METRIC.tasksRequeued) private readonly requeuedTotal: Counter<string>,
    @InjectMetric(METRIC.enqueueUnconfirmed) private readonly unconfirmedTotal: Counter<string>,
    @InjectMetric(METRIC.taskDuration) private readonly duration: Histogram<string>,
    @InjectMetric(METRIC.taskWait) private readonly wait: Histogram<string>,
    @InjectMetric(METRIC.queueJobs) private readonly queueJobs: Gauge<string>,
    @InjectMetric(METRIC.httpRequests) private readonly httpRequests: Counter<string>,
    @InjectMetric(METRIC.httpDuration) private readonly httpDuration: Histogram<string>,
    @InjectMetric(METRIC.apiKeyLookups) private readonly apiKeyLookups: Counter<string>,
    @InjectMetric(METRIC.authFailures) private readonly authFailures: Counter<string>,
    @InjectMetric(METRIC.scheduleTicks) private readonly scheduleTicks: Counter<string>,
    @InjectMetric(METRIC.scheduleTicksMissed) private readonly scheduleTicksMissed: Counter<string>,
    @InjectMetric(METRIC.flowChildFailures) private readonly flowChildFailures: Counter<string>,
    @InjectMetric(METRIC.flowsFinished) private readonly flowsFinished: Counter<string>,
    @InjectMetric(METRIC.eventStreamReads) private readonly eventStreamReads: Counter<string>,
  ) {
    // Queue depth is read from Redis when Prometheus scrapes, not polled in the background.
    const readers = () => this.depthReaders;
    const gauge = this.queueJobs;
    (gauge as unknown as { collect?: () => Promise<void> }).collect = async function collect() {
      for (const read of readers()) {
        try {
          for (const { queue, counts } of await read()) {
            for (const [state, value] of Object.entries(counts)) gauge.set({ queue, state }, value);
          }
        } catch {
          // Redis unreachable: keep the last values; health reports the outage.
        }
      }
    };
  }

  onQueueDepthScrape(reader: QueueDepthReader): void {
    this.depthReaders.push(reader);
  }

  enqueued(type: string, queue: string, count = 1): void {
    this.enqueuedTotal.inc({ type, queue }, count);
  }

  /** Tasks accepted although Redis did not confirm their job (the reconciler covers them). */
  enqueueUnconfirmed(count: number): void {
    this.unconfirmedTotal.inc(count);
  }

  attemptStarted(type: string, queue: string, waitSeconds: number): void {
    if (waitSeconds >= 0) this.wait.observe({ type, queue }, waitSeconds);
  }

  completed(type: string, queue: string, seconds: number): void {
    this.completedTotal.inc({ type, queue });
    this.duration.observe({ type, queue, outcome: 'completed' }, seconds);
  }

  failed(type: string, queue: string, code: string, final: boolean, seconds: number): void {
    this.failedTotal.inc({ type, queue, code, final: String(final) });
    this.duration.observe({ type, queue, outcome: final ? 'failed' : 'retrying' }, seconds);
  }

  requeued(type: string, queue: string, reason: string): void {
    this.requeuedTotal.inc({ type, queue, reason });
  }

  httpRequest(method: string, route: string, status: number, seconds: number): void {
    const labels = { method, route, status: String(status) };
    this.httpRequests.inc(labels);
    this.httpDuration.observe(labels, seconds);
  }

  apiKeyLookup(result: 'found' | 'unknown'): void {
    this.apiKeyLookups.inc({ result });
  }

  authFailure(reason: 'missing' | 'invalid' | 'rate_limited'): void {
    this.authFailures.inc({ reason });
  }

  /** `schedule` names the schedule: its key when declared in code (stable across deploys), else its id. */
  scheduleTickFired(schedule: string, count = 1): void {
    if (count > 0) this.scheduleTicks.inc({ schedule, outcome: 'fired', reason: '' }, count);
  }

  scheduleTickSkipped(schedule: string, reason: 'overlap' | 'duplicate' | 'invalid', count = 1): void {
    if (count > 0) this.scheduleTicks.inc({ schedule, outcome: 'skipped', reason }, count);
  }

  scheduleTicksMissedBy(schedule: string, policy: string, action: 'run' | 'dropped', count: number): void {
    if (count > 0) this.scheduleTicksMissed.inc({ schedule, policy, action }, count);
  }

  flowChildFailed(policy: string): void {
    this.flowChildFailures.inc({ policy });
  }

  flowFinished(status: string): void {
    this.flowsFinished.inc({ status });
  }

  eventStreamRead(): void {
    this.eventStreamReads.inc();
  }
}
