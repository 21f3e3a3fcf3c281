import { Global, Module } from '@nestjs/common';
import { makeCounterProvider, makeGaugeProvider, makeHistogramProvider } from '@willsoto/nestjs-prometheus';
import { collectDefaultMetrics, register } from 'prom-client';
import { METRIC } from './metric-names';
import { MIGRATION_METRIC_PROVIDERS, MigrationMetrics } from './migration-metrics';
import { TaskMetrics } from './task-metrics';

/**
 * Process and runtime metrics (CPU, memory, event loop lag, GC, handles) once per process,
 * under prom-client's standard names (`process_*`, `nodejs_*`) so stock Node.js dashboards work.
 */
function startDefaultMetrics(): void {
  if (!register.getSingleMetric('process_cpu_user_seconds_total')) collectDefaultMetrics();
}

/** From a millisecond no-op to a four-hour export: tasks run for anything in between. */
const TASK_BUCKETS = [0.001, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1800, 3600, 7200, 14400];
const HTTP_BUCKETS = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5];

/**
 * Prometheus metrics for both apps, declared once here through `@willsoto/nestjs-prometheus`
 * providers: process metrics plus Conveyor's own, in prom-client's default registry. The API
 * serves it at `/metrics` (`@conveyor/observability/api`); the worker, which has no HTTP app,
 * serves the same registry from its health server.
 */
@Global()
@Module({
  providers: [
    // `tenant` only with METRICS_TENANT_LABEL=true (TaskMetrics leaves it out otherwise).
    makeCounterProvider({ name: METRIC.tasksEnqueued, help: 'Tasks accepted into a queue', labelNames: ['type', 'queue', 'tenant'] }),
    makeCounterProvider({ name: METRIC.tasksCompleted, help: 'Tasks that completed', labelNames: ['type', 'queue', 'tenant'] }),
    makeCounterProvider({
      name: METRIC.tasksFailed,
      help: 'Failed task attempts; final="true" when no attempt is left',
      labelNames: ['type', 'queue', 'code', 'final', 'tenant'],
    }),
    makeCounterProvider({
      name: METRIC.tasksRequeued,
      help: 'Tasks put back into their queue by the reconciler (their job had vanished from Redis)',
      labelNames: ['type', 'queue', 'reason'],
    }),
    makeCounterProvider({
      name: METRIC.enqueueUnconfirmed,
      help: 'Tasks accepted although Redis did not confirm the add in time; the reconciler queues any job Redis never got',
    }),
    makeHistogramProvider({
      name: METRIC.taskDuration,
      help: 'Run time of one task attempt',
      labelNames: ['type', 'queue', 'outcome'],
      buckets: TASK_BUCKETS,
    }),
    makeHistogramProvider({
      name: METRIC.taskWait,
      help: 'Time from when a task could first run until a worker started it',
      labelNames: ['type', 'queue'],
      buckets: TASK_BUCKETS,
    }),
    makeCounterProvider({
      name: METRIC.flowChildFailures,
      help: 'Flow nodes that failed, were cancelled or expired, by the policy of their edge (what it did to the parent)',
      labelNames: ['policy'],
    }),
    makeCounterProvider({ name: METRIC.flowsFinished, help: 'Flows whose root reached a terminal state, by that state', labelNames: ['status'] }),
    makeCounterProvider({
      name: METRIC.eventStreamReads,
      help: 'Ledger reads made for task event streams (one per change of a watched task, shared by its streams)',
    }),
    makeGaugeProvider({ name: METRIC.queueJobs, help: 'Jobs per queue and state (read at scrape time)', labelNames: ['queue', 'state'] }),
    makeGaugeProvider({
      name: METRIC.queueWorkers,
      help: 'BullMQ workers connected to the queue, across all processes (read at scrape time)',
      labelNames: ['queue'],
    }),
    makeGaugeProvider({
      name: METRIC.queueOldestWaiting,
      help: 'Seconds the job a worker would take next has been ready to run (0 when none waits; read at scrape time)',
      labelNames: ['queue'],
    }),
    makeCounterProvider({
      name: METRIC.ledgerWriteErrors,
      help: 'Failed ledger flushes of the worker: connection (changes kept and retried) or rejected (the database refused the data)',
      labelNames: ['kind'],
    }),
    makeCounterProvider({
      name: METRIC.ledgerCompletions,
      help: 'Plain completions by how the worker recorded them: behind (acknowledged before the ledger commit) or waited (the backlog was past WORKER_WRITE_BEHIND_MAX, so the slot waited for the commit)',
      labelNames: ['mode'],
    }),
    makeGaugeProvider({ name: METRIC.ledgerWriteBacklog, help: 'Task state changes the worker has not committed to the ledger yet (read at scrape time)' }),
    makeGaugeProvider({
      name: METRIC.workerConsuming,
      help: "1 when this worker process can take the queue's jobs (its BullMQ worker running, blocking connection up), else 0",
      labelNames: ['queue'],
    }),
    makeGaugeProvider({
      name: METRIC.workerConcurrency,
      help: 'Tasks of the queue this worker process may run at once now (configured, autoscaled or set by an operator)',
      labelNames: ['queue'],
    }),
    makeCounterProvider({ name: METRIC.httpRequests, help: 'HTTP requests', labelNames: ['method', 'route', 'status'] }),
    makeHistogramProvider({
      name: METRIC.httpDuration,
      help: 'HTTP request duration',
      labelNames: ['method', 'route', 'status'],
      buckets: HTTP_BUCKETS,
    }),
    makeCounterProvider({ name: METRIC.apiKeyLookups, help: 'API keys looked up in the database (not cached), by result', labelNames: ['result'] }),
    makeCounterProvider({
      name: METRIC.authFailures,
      help: 'Requests refused by authentication: no key, an invalid key, or too many failures from the address',
      labelNames: ['reason'],
    }),
    makeCounterProvider({
      name: METRIC.scheduleTicks,
      help: 'Schedule ticks by schedule (its key when declared in code, else its id) and outcome: fired (a task was created), or skipped with reason overlap (previous run unfinished), duplicate (another process fired it) or invalid (the template no longer validates)',
      labelNames: ['schedule', 'outcome', 'reason'],
    }),
    makeCounterProvider({
      name: METRIC.scheduleTicksMissed,
      help: 'Ticks whose time passed while no scheduler ran, by schedule, its missed policy and what became of them (run or dropped)',
      labelNames: ['schedule', 'policy', 'action'],
    }),
    ...MIGRATION_METRIC_PROVIDERS,
    TaskMetrics,
    MigrationMetrics,
  ],
  exports: [TaskMetrics, MigrationMetrics],
})
export class MetricsModule {
  constructor() {
    startDefaultMetrics();
  }
}
