import { Module } from '@nestjs/common';
import { ScheduleModule } from '@nestjs/schedule';
import { FlowSweeper } from '../../flows/flow-sweeper';
import { LedgerMaintenanceRepository } from './ledger-maintenance.repository';
import { MaintenanceLock } from './maintenance-lock';
import { MaintenanceScheduler } from './maintenance-scheduler';
import { RegisteredQueues } from './registered-queues';
import { TaskReconciler } from './task-reconciler.service';
import { TaskRetention } from './task-retention.service';

/**
 * The worker's housekeeping: the reconciler (re-queues tasks whose job vanished from Redis)
 * (with the flow sweep: settles a flow parent its children left waiting) and retention
 * (deletes old finished tasks). Every worker schedules both; a Redis lock lets
 * one process at a time run each, so adding workers adds no load here.
 */
@Module({
  imports: [ScheduleModule.forRoot()],
  providers: [FlowSweeper, LedgerMaintenanceRepository, MaintenanceLock, MaintenanceScheduler, RegisteredQueues, TaskReconciler, TaskRetention],
  exports: [TaskReconciler, TaskRetention, MaintenanceLock],
})
export class TaskMaintenanceModule {}
