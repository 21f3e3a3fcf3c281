/** Every metric Conveyor exports; all names carry the `conveyor_` prefix. */
export const METRIC = {
  tasksEnqueued: 'conveyor_tasks_enqueued_total',
  tasksCompleted: 'conveyor_tasks_completed_total',
  tasksFailed: 'conveyor_tasks_failed_total',
  tasksRequeued: 'conveyor_tasks_requeued_total',
  enqueueUnconfirmed: 'conveyor_enqueue_unconfirmed_total',
  taskDuration: 'conveyor_task_duration_seconds',
  taskWait: 'conveyor_task_wait_seconds',
  queueJobs: 'conveyor_queue_jobs',
  httpRequests: 'conveyor_http_requests_total',
  httpDuration: 'conveyor_http_request_duration_seconds',
  apiKeyLookups: 'conveyor_api_key_lookups_total',
  authFailures: 'conveyor_auth_failures_total',
  scheduleTicks: 'conveyor_schedule_ticks_total',
  scheduleTicksMissed: 'conveyor_schedule_ticks_missed_total',
  flowChildFailures: 'conveyor_flow_child_failures_total',
  flowsFinished: 'conveyor_flows_finished_total',
} as const;
