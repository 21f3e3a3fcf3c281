import { HandlesTask, type TaskContext, type TaskHandler } from '../../contracts/task-handler';
import { SYSTEM_RECONCILE, SYSTEM_RETENTION, type MaintenancePayload, type ReconcileResult, type RetentionResult } from '../../maintenance.contract';
import { TaskReconciler } from './task-reconciler.service';
import { TaskRetention } from './task-retention.service';

/** A reconciler pass as a task: its result is the pass's counts; a timeout or shutdown stops it between pages. */
@HandlesTask(SYSTEM_RECONCILE)
export class ReconcileHandler implements TaskHandler<MaintenancePayload, ReconcileResult> {
  constructor(private readonly reconciler: TaskReconciler) {}

  handle(_payload: MaintenancePayload, context: TaskContext): Promise<ReconcileResult> {
    return this.reconciler.reconcileOnce({ signal: context.signal });
  }
}

/** A retention purge as a task: its result is what was deleted; stopped between batches. */
@HandlesTask(SYSTEM_RETENTION)
export class RetentionHandler implements TaskHandler<MaintenancePayload, RetentionResult> {
  constructor(private readonly retention: TaskRetention) {}

  handle(_payload: MaintenancePayload, context: TaskContext): Promise<RetentionResult> {
    return this.retention.purgeOnce({ signal: context.signal });
  }
}
