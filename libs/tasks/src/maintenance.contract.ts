import { defineTaskType } from './contracts/task-type';

/**
 * The queue of the housekeeping tasks, apart from every tenant's queues so that no user
 * backlog delays them. A stored name: do not rename. A deployment with WORKER_QUEUES must
 * let at least one worker consume it.
 */
export const MAINTENANCE_QUEUE = 'maintenance';

export class MaintenancePayload {}

export interface ReconcileResult {
  scanned: number;
  missing: number;
  requeued: number;
  /** Runs that ended in Redis and not in the ledger, recorded from Redis (see UnrecordedEndRecorder). */
  endsRecorded: number;
  /** Flow parents the sweep settled (see FlowSweeper). */
  flowsSettled: number;
}

export interface RetentionResult {
  /** Finished tasks deleted for age (TASK_TTL_SECONDS). */
  deleted: number;
  /** Rows deleted per DELETE statement, in order. */
  batches: number[];
  /** Runs of the housekeeping tasks deleted beyond the latest MAINTENANCE_RUNS_KEPT of each type. */
  maintenanceRunsDeleted: number;
  /** Records of purge participants removed for age: uploads (task outputs go with their tasks, uncounted). */
  filesDeleted: number;
}

/**
 * Finished runs kept of each housekeeping type, whatever their age; older ones are deleted
 * by retention, and TASK_TTL_SECONDS does not apply to them. A day of reconciles at the
 * default minute, two months of hourly retention runs: history to read, a bounded ledger
 * even at a 1 s interval.
 */
export const MAINTENANCE_RUNS_KEPT = 1440;

/**
 * Both run on system schedules declared here, every RECONCILE_INTERVAL_MS and
 * RETENTION_INTERVAL_MS (0 declares none). `overlap: skip` keeps one run at a time; `missed:
 * skip`, since one pass stands for any number of missed ones. One attempt: the next tick is
 * the retry.
 */
export const SYSTEM_RECONCILE = defineTaskType<MaintenancePayload, ReconcileResult>({
  type: 'system.reconcile',
  queue: MAINTENANCE_QUEUE,
  description: 'Re-queues unfinished tasks whose BullMQ job vanished from Redis (reconciler pass).',
  payload: MaintenancePayload,
  defaults: { maxAttempts: 1 },
  systemOnly: true,
  schedules: [{ id: 'interval', everyMs: (config) => config.maintenance.reconcileIntervalMs, overlap: 'skip', missed: 'skip', payload: {} }],
});

export const SYSTEM_RETENTION = defineTaskType<MaintenancePayload, RetentionResult>({
  type: 'system.retention',
  queue: MAINTENANCE_QUEUE,
  description: 'Deletes finished tasks older than TASK_TTL_SECONDS, their files, old uploads, and old housekeeping runs.',
  payload: MaintenancePayload,
  defaults: { maxAttempts: 1 },
  systemOnly: true,
  schedules: [{ id: 'interval', everyMs: (config) => config.maintenance.retentionIntervalMs, overlap: 'skip', missed: 'skip', payload: {} }],
});

export const MAINTENANCE_TASK_TYPES = [SYSTEM_RECONCILE, SYSTEM_RETENTION] as const;
