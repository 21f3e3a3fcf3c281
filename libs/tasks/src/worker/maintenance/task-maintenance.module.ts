import { Module } from '@nestjs/common';
import { DiscoveryModule } from '@nestjs/core';
import { FlowSweeper } from '../../flows/flow-sweeper';
import { MAINTENANCE_TASK_TYPES } from '../../maintenance.contract';
import { TaskContractsModule } from '../../task-contracts.module';
import { LedgerWriterModule } from '../ledger-writer.module';
import { LedgerRetentionRepository } from './ledger-retention.repository';
import { ReconcileHandler, RetentionHandler } from './maintenance.handlers';
import { TaskReconciler } from './task-reconciler.service';
import { TaskRetention } from './task-retention.service';
import { UnrecordedEndRecorder } from './unrecorded-end-recorder';

/**
 * The worker's housekeeping: the reconciler (re-queues tasks whose job vanished from Redis)
 * (with the flow sweep: settles a flow parent its children left waiting) and retention
 * (deletes old finished tasks, and what purge participants keep for them), run as the `system.reconcile` and
 * `system.retention` tasks that their code-declared system schedules create: one task per
 * tick across all processes, on the `maintenance` queue.
 */
@Module({
  imports: [DiscoveryModule, TaskContractsModule.forFeature(MAINTENANCE_TASK_TYPES), LedgerWriterModule],
  providers: [FlowSweeper, LedgerRetentionRepository, UnrecordedEndRecorder, TaskReconciler, TaskRetention, ReconcileHandler, RetentionHandler],
  exports: [TaskReconciler, TaskRetention],
})
export class TaskMaintenanceModule {}
