import { Inject, Injectable } from '@nestjs/common';
import { InjectMetric } from '@willsoto/nestjs-prometheus';
import type { Counter, Gauge, Histogram } from 'prom-client';
import { APP_CONFIG, type AppConfig } from '@conveyor/config';
import { METRIC } from './metric-names';

/** What one scrape learns of a queue: jobs per state, consuming workers, the next job's wait (s). */
export interface QueueScrape {
  queue: string;
  counts?: Record<string, number>;
  workers?: number;
  oldestWaitingSeconds?: number;
}
export type QueueDepthReader = () => Promise<QueueScrape[]>;
export type LedgerBacklogReader = () => number;

/** The one place metrics are recorded; processors and producers call these methods. */
@Injectable()
export class TaskMetrics {
  private depthReaders: QueueDepthReader[] = [];
  private backlogReader?: LedgerBacklogReader;

  constructor(
    @Inject(APP_CONFIG) private readonly config: AppConfig,
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
    @InjectMetric(METRIC.queueWorkers) private readonly queueWorkers: Gauge<string>,
    @InjectMetric(METRIC.queueOldestWaiting) private readonly queueOldestWaiting: Gauge<string>,
    @InjectMetric(METRIC.ledgerWriteErrors) private readonly ledgerWriteErrors: Counter<string>,
    @InjectMetric(METRIC.ledgerWriteBacklog) private readonly ledgerWriteBacklog: Gauge<string>,
    @InjectMetric(METRIC.ledgerCompletions) private readonly ledgerCompletions: Counter<string>,
    @InjectMetric(METRIC.workerConsuming) private readonly workerConsuming: Gauge<string>,
    @InjectMetric(METRIC.workerConcurrency) private readonly workerConcurrency: Gauge<string>,
  ) {
    // Queue gauges are read from Redis when Prometheus scrapes, not polled in the background.
    // prom-client collects every metric of a scrape at once: the three share one read.
    const readers = () => this.depthReaders;
    let reading: Promise<void> | undefined;
    const readQueues = async () => {
      for (const read of readers()) {
        try {
          for (const { queue, counts, workers, oldestWaitingSeconds } of await read()) {
            for (const [state, value] of Object.entries(counts ?? {})) queueJobs.set({ queue, state }, value);
            if (workers !== undefined) queueWorkers.set({ queue }, workers);
            if (oldestWaitingSeconds !== undefined) queueOldestWaiting.set({ queue }, oldestWaitingSeconds);
          }
        } catch {
          // Redis unreachable: keep the last values; health reports the outage.
        }
      }
    };
    const collect = () => (reading ??= readQueues().finally(() => (reading = undefined)));
    for (const gauge of [queueJobs, queueWorkers, queueOldestWaiting]) collectOnScrape(gauge, collect);
    collectOnScrape(this.ledgerWriteBacklog, () => {
      if (this.backlogReader) this.ledgerWriteBacklog.set(this.backlogReader());
    });
  }

  /** The ledger writer's count of uncommitted changes, read at scrape time (worker only). */
  onLedgerBacklogScrape(reader: LedgerBacklogReader): void {
    this.backlogReader = reader;
  }

  /** A ledger flush failed: `connection` (its changes kept and retried) or `rejected` (the database refused the data). */
  ledgerWriteFailed(kind: 'connection' | 'rejected'): void {
    this.ledgerWriteErrors.inc({ kind });
  }

  /**
   * A plain completion was written behind its acknowledgement, or waited for its commit because
   * the writer's backlog was past WORKER_WRITE_BEHIND_MAX (a steady `waited` means the ledger
   * cannot keep up and the worker runs at the database's pace).
   */
  completionRecorded(mode: 'behind' | 'waited'): void {
    this.ledgerCompletions.inc({ mode });
  }

  /** 1 when this worker process can take jobs of the queue (its BullMQ Worker running and connected), else 0. */
  consuming(queue: string, ok: boolean): void {
    this.workerConsuming.set({ queue }, ok ? 1 : 0);
  }

  /** The concurrency this worker process runs the queue with now. */
  concurrency(queue: string, value: number): void {
    this.workerConcurrency.set({ queue }, value);
  }

  onQueueDepthScrape(reader: QueueDepthReader): void {
    this.depthReaders.push(reader);
  }

  enqueued(type: string, queue: string, count = 1, tenant?: string): void {
    this.enqueuedTotal.inc({ type, queue, ...this.tenantLabel(tenant) }, count);
  }

  /** Tasks accepted although Redis did not confirm their job (the reconciler covers them). */
  enqueueUnconfirmed(count: number): void {
    this.unconfirmedTotal.inc(count);
  }

  attemptStarted(type: string, queue: string, waitSeconds: number): void {
    if (waitSeconds >= 0) this.wait.observe({ type, queue }, waitSeconds);
  }

  completed(type: string, queue: string, seconds: number, tenant?: string): void {
    this.completedTotal.inc({ type, queue, ...this.tenantLabel(tenant) });
    this.duration.observe({ type, queue, outcome: 'completed' }, seconds);
  }

  failed(type: string, queue: string, code: string, final: boolean, seconds: number, tenant?: string): void {
    this.failedTotal.inc({ type, queue, code, final: String(final), ...this.tenantLabel(tenant) });
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

  /** `{ tenant }` when METRICS_TENANT_LABEL allows it: one series per tenant is the operator's choice. */
  private tenantLabel(tenant: string | undefined): { tenant?: string } {
    return this.config.metricsTenantLabel && tenant ? { tenant } : {};
  }
}

/** Makes a gauge run `read` whenever the registry is scraped (prom-client calls `collect`). */
function collectOnScrape(gauge: Gauge<string>, read: () => void | Promise<void>): void {
  (gauge as unknown as { collect?: () => void | Promise<void> }).collect = read;
}
