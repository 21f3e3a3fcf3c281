/**
 * Every metric Conveyor exports; all names carry the `conveyor_` prefix. The process and
 * runtime metrics (`process_*`, `nodejs_*`) keep prom-client's standard names, which stock
 * Node.js dashboards expect. Labels stay bounded: never a task id or a tenant.
 */
export const METRIC = {
  tasksEnqueued: 'conveyor_tasks_enqueued_total',
  tasksCompleted: 'conveyor_tasks_completed_total',
  tasksFailed: 'conveyor_tasks_failed_total',
  tasksRequeued: 'conveyor_tasks_requeued_total',
  enqueueUnconfirmed: 'conveyor_enqueue_unconfirmed_total',
  taskDuration: 'conveyor_task_duration_seconds',
  taskWait: 'conveyor_task_wait_seconds',
  queueJobs: 'conveyor_queue_jobs',
  queueWorkers: 'conveyor_queue_workers',
  queueOldestWaiting: 'conveyor_queue_oldest_waiting_seconds',
  ledgerWriteErrors: 'conveyor_ledger_write_errors_total',
  ledgerWriteBacklog: 'conveyor_ledger_write_backlog',
  ledgerCompletions: 'conveyor_ledger_completions_total',
  workerConsuming: 'conveyor_worker_consuming',
  workerConcurrency: 'conveyor_worker_concurrency',
  httpRequests: 'conveyor_http_requests_total',
  httpDuration: 'conveyor_http_request_duration_seconds',
  apiKeyLookups: 'conveyor_api_key_lookups_total',
  authFailures: 'conveyor_auth_failures_total',
  scheduleTicks: 'conveyor_schedule_ticks_total',
  scheduleTicksMissed: 'conveyor_schedule_ticks_missed_total',
  flowChildFailures: 'conveyor_flow_child_failures_total',
  flowsFinished: 'conveyor_flows_finished_total',
  eventStreamReads: 'conveyor_event_stream_reads_total',
  migrationRows: 'conveyor_background_migration_rows_total',
  migrationBatches: 'conveyor_background_migration_batches_total',
  migrationFailures: 'conveyor_background_migration_failures_total',
  migrationBatchDuration: 'conveyor_background_migration_batch_duration_seconds',
} as const;
